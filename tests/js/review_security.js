// Attacks on irbis review from a real browser (Debian's headless chromium, puppeteer-core), for
// tests/py/test_review_security.py. usage: node review_security.js JSON, a list of steps
// [[STEP, ARGS...], ...] run in order in one browser:
//   csrf REVIEW_URL EVIL_URL SEQ: opens the review page (the cookie is set), then EVIL_URL, a page
//        of another origin that posts labels to the server (fetch no-cors, a form); then labels SEQ
//        from the review page itself, as app.js does
//   embed REVIEW_URL EVIL_URL: opens the review page, then EVIL_URL, a page of another origin that
//        shows the server's images in <img>; prints their sizes as loaded
//   two URL_A URL_B SEQ_A: opens the page of one irbis review, then another's (another OUT/,
//        another port) in the same browser, then loads data and labels SEQ_A from the first page
//   xss URL [review]: opens URL (the review page, or report.html from disk) of a survey whose
//        names hold HTML and script; on the review page walks the queues, the full-size view and
//        a label key; prints the dialogs that opened, the scripts and on* attributes in the DOM
// Output: one JSON list on stdout, an object per step.
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

async function embed(browser, out, [url, evil]) {
  const page = await browser.newPage();
  await page.goto(url, {waitUntil: 'networkidle0'});
  await ready(page);
  const other = await browser.newPage();
  await other.goto(evil, {waitUntil: 'networkidle0'});
  out.sizes = await other.$$eval('img', (is) => is.map((i) => i.naturalWidth + 'x' + i.naturalHeight));
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
  const steps = JSON.parse(process.argv[2]);
  const fns = {csrf: csrf, embed: embed, two: two, xss: xss};
  const browser = await puppeteer.launch({executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run']});
  const outs = [];
  try {
    for (const [step, ...args] of steps) {
      const out = {step: step, evil_console: []};
      outs.push(out);
      try {
        if (!fns[step]) throw new Error('unknown step ' + step);
        await fns[step](browser, out, args);
      } catch (e) {
        out.error = String(e);
      }
    }
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(outs));
}

main();
