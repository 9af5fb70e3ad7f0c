// Attacks on irbis review from a real browser (Debian's headless chromium, puppeteer-core), for
// tests/py/test_review_security.py. usage: node review_security.js STEP ARGS...
//   csrf REVIEW_URL EVIL_URL SEQ: opens the review page (the cookie is set), then EVIL_URL, a page
//        of another origin that posts labels to the server (fetch no-cors, a form); then labels SEQ
//        from the review page itself, as app.js does
//   two URL_A URL_B: opens the page of one irbis review, then another's (another OUT/, another
//        port) in the same browser, then loads data and labels SEQ_A from the first page again
//   xss URL [review]: opens URL (the review page, or report.html from disk) of a survey whose
//        names hold HTML and script; on the review page walks the queues, the full-size view and
//        a label key; prints the dialogs that opened, the scripts and on* attributes in the DOM
// Output: one JSON object on stdout.
'use strict';
const puppeteer = require('puppeteer-core');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function ready(page) {
  await page.waitForSelector('body[data-ready="1"]', {timeout: 20000});
}

// The review page posts a label as app.js does; returns the status.
function post(page, seq, label) {
  return page.evaluate(async (s, l) => (await fetch('/api/label', {method: 'POST',
    body: new URLSearchParams({seq: s, label: l})})).status, seq, label);
}

async function csrf(browser, out, [url, evil, seq]) {
  const page = await browser.newPage();
  await page.goto(url, {waitUntil: 'networkidle0'});
  await ready(page);
  const other = await browser.newPage();
  other.on('console', (m) => out.evil_console.push(m.text()));
  await other.goto(evil, {waitUntil: 'networkidle0'});
  await other.waitForFunction(() => document.title === 'sent', {timeout: 10000});
  await sleep(1500); // the form's post lands in its frame
  out.own_post = await post(page, seq, 'empty');
}

async function two(browser, out, [a, b, seq]) {
  const pa = await browser.newPage();
  await pa.goto(a, {waitUntil: 'networkidle0'});
  await ready(pa);
  const pb = await browser.newPage();
  await pb.goto(b, {waitUntil: 'networkidle0'});
  await ready(pb);
  out.a_info = await pa.evaluate(async () => (await fetch('/api/info')).status);
  out.a_post = await post(pa, seq, 'empty');
  out.b_info = await pb.evaluate(async () => (await fetch('/api/info')).status);
  await pa.reload({waitUntil: 'networkidle0'});
  out.a_reload = await pa.evaluate(() => document.body.dataset.ready === '1');
}

async function xss(browser, out, [url, review]) {
  const page = await browser.newPage();
  out.dialogs = [];
  out.errors = [];
  page.on('dialog', async (d) => { out.dialogs.push(d.message()); await d.dismiss(); });
  page.on('pageerror', (e) => out.errors.push(String(e)));
  await page.goto(url, {waitUntil: 'networkidle0'});
  if (review) {
    await ready(page);
    for (const q of ['camera', 'label', 'uncertain']) {
      await page.select('#queue', q);
      await page.waitForFunction(() => document.querySelectorAll('.card').length > 0, {timeout: 10000});
      await sleep(300);
    }
    await page.keyboard.press('Enter');
    await sleep(500);
    await page.keyboard.press('Escape');
    await page.keyboard.press('1');
    await sleep(500);
    out.text = await page.$eval('#cards', (c) => c.innerText);
  } else {
    out.text = await page.evaluate(() => document.body.innerText);
  }
  out.scripts = await page.$$eval('script', (s) => s.map((x) => x.src || 'inline'));
  out.handlers = await page.$$eval('*', (es) => es.filter((e) => [...e.attributes].some((a) => /^on/i.test(a.name)))
    .map((e) => e.outerHTML.slice(0, 80)));
  out.js_urls = await page.$$eval('[href],[src]', (es) => es.map((e) => e.getAttribute('href') || e.getAttribute('src'))
    .filter((u) => /^\s*javascript:/i.test(u)));
}

async function main() {
  const [step, ...args] = process.argv.slice(2);
  const browser = await puppeteer.launch({executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run']});
  const out = {step: step, evil_console: []};
  try {
    if (step === 'csrf') await csrf(browser, out, args);
    else if (step === 'two') await two(browser, out, args);
    else if (step === 'xss') await xss(browser, out, args);
    else throw new Error('unknown step ' + step);
  } catch (e) {
    out.error = String(e);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(out));
}

main();
