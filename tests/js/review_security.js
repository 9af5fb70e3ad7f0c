// Attacks on irbis review from a real browser (Debian's headless chromium, puppeteer-core), for
// tests/py/test_review_security.py. usage: node review_security.js STEP ARGS...
//   csrf REVIEW_URL EVIL_URL SEQ: opens the review page (the cookie is set), then EVIL_URL, a page
//        of another origin that posts labels to the server (fetch no-cors, a form); then labels SEQ
//        from the review page itself, as app.js does
//   two URL_A URL_B: opens the page of one irbis review, then another's (another OUT/, another
//        port) in the same browser, then loads data and labels SEQ_A from the first page again
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

async function main() {
  const [step, ...args] = process.argv.slice(2);
  const browser = await puppeteer.launch({executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run']});
  const out = {step: step, evil_console: []};
  try {
    if (step === 'csrf') await csrf(browser, out, args);
    else if (step === 'two') await two(browser, out, args);
    else throw new Error('unknown step ' + step);
  } catch (e) {
    out.error = String(e);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(out));
}

main();
