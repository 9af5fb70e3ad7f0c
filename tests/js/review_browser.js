// Drives the irbis review page in Debian's headless chromium (puppeteer-core), for
// tests/py/test_review_browser.py. usage: node review_browser.js URL STEP
//   label:  presses keys on the first cards (class keys, e, arrows, u undo), clicks a class button
//           (mouse fallback), opens the full-size view, then reloads the page; prints what each card
//           showed before and after the reload
//   show:   prints the labels the page shows (after a server restart)
//   accept: presses a (accept the page), prints the labels shown
//   readonly: a read-only OUT: what the page says on load, then after a class key (refused)
//   names:  picks the camera whose name is not UTF-8 (shown with U+FFFD) in the camera filter,
//           waits for its cards' thumbnails, opens the full-size view, labels the first card with a
//           class key (a class other than its label)
// Output: one JSON object on stdout.
'use strict';
const puppeteer = require('puppeteer-core');

async function shown(page) {
  return page.$$eval('.card', (cs) => cs.map((c) => ({seq: c.dataset.seq, human: c.dataset.human,
                                                       machine: c.dataset.machine})));
}

async function ready(page) {
  await page.waitForSelector('body[data-ready="1"]', {timeout: 20000});
}

async function settle(page, seq, want) {
  // the card re-renders once the server has stored the label
  await page.waitForFunction((s, w) => {
    const c = [...document.querySelectorAll('.card')].find((x) => x.dataset.seq === s);
    return c && c.dataset.human === w;
  }, {timeout: 10000}, seq, want);
}

async function main() {
  const [url, step] = process.argv.slice(2);
  const browser = await puppeteer.launch({executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run']});
  const out = {step: step, requests: [], errors: []};
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => out.errors.push(String(e)));
    page.on('requestfailed', (r) => out.errors.push('request failed: ' + r.url()));
    page.on('response', (r) => { if (!r.ok()) out.errors.push(r.status() + ' ' + r.url()); });
    page.on('request', (r) => out.requests.push(r.url()));
    await page.goto(url, {waitUntil: 'networkidle0'});
    await ready(page);
    out.address = page.url();
    if (step === 'label') {
      const cards = await shown(page);
      const info = await page.evaluate(async () => (await fetch('/api/info')).json());
      out.classes = info.classes;
      const other = (m) => info.classes.find((c) => c !== m);
      // card 0: the class key of a class other than the machine's (keys 1..9 follow the classes)
      const want0 = other(cards[0].machine);
      await page.keyboard.press(String(info.classes.indexOf(want0) + 1));
      await settle(page, cards[0].seq, want0);
      // selection moved on to card 1: `e` (the blank class)
      await page.keyboard.press('e');
      await settle(page, cards[1].seq, info.blank);
      // card 2: label it, then undo: its label is gone again
      await page.keyboard.press('1');
      await settle(page, cards[2].seq, info.classes[0]);
      await page.keyboard.press('u');
      await settle(page, cards[2].seq, '');
      // arrows: back to card 2, right to card 3, left to 2; label 2 with the second class
      await page.keyboard.press('ArrowRight');
      await page.keyboard.press('ArrowLeft');
      out.selected_after_arrows = await page.$eval('.card.sel', (c) => c.dataset.seq);
      await page.keyboard.press('2');
      await settle(page, out.selected_after_arrows, info.classes[1]);
      // mouse fallback: card 4's button of the first class
      const btn = await page.$$('.card:nth-child(5) .btns button');
      await btn[0].click();
      await settle(page, cards[4].seq, info.classes[0]);
      // full-size view of the selected card (card 5 after the click moved on)
      await page.keyboard.press('Enter');
      await page.waitForSelector('#full:not([hidden])');
      await page.waitForFunction(() => document.getElementById('full-img').naturalWidth > 0, {timeout: 10000});
      out.full_width = await page.$eval('#full-img', (i) => i.naturalWidth);
      await page.keyboard.press('Escape');
      out.thumbs_loaded = await page.$$eval('.card img', (is) => is.filter((i) => i.naturalWidth > 0).length);
      out.before_reload = await shown(page);
      await page.reload({waitUntil: 'networkidle0'});
      await ready(page);
      out.after_reload = await shown(page);
    } else if (step === 'show') {
      out.after_reload = await shown(page);
    } else if (step === 'readonly') {
      const text = () => page.$eval('#status', (e) => ({text: e.textContent, error: e.className === 'error'}));
      out.flag = await page.$eval('body', (b) => b.dataset.readonly || '');
      out.export_disabled = await page.$eval('#export', (b) => b.disabled);
      out.on_load = await text();
      out.before = await shown(page);
      await page.keyboard.press('1');
      await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('not stored'),
        {timeout: 10000});
      out.after_key = await text();
      out.after = await shown(page);
      out.thumbs_loaded = await page.$$eval('.card img', (is) => is.filter((i) => i.naturalWidth > 0).length);
    } else if (step === 'names') {
      const value = await page.$$eval('#camera option', (os) => (os.find((o) => o.textContent.indexOf('\ufffd') >= 0)
                                                                   || {}).value);
      out.camera_value = value || '';
      await page.select('#camera', out.camera_value);
      await page.waitForFunction(() => { const c = document.querySelectorAll('.card'); return c.length &&
        [...c].every((x) => x.querySelector('.head span').textContent.indexOf('\ufffd') >= 0); }, {timeout: 10000});
      await page.waitForFunction(() => [...document.querySelectorAll('.card img')].every((i) => i.complete),
        {timeout: 10000});
      out.thumbs = await page.$$eval('.card img', (is) => is.map((i) => i.naturalWidth));
      const first = (await shown(page))[0];
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => { const i = document.getElementById('full-img'); return i.complete &&
        i.naturalWidth > 0; }, {timeout: 10000});
      out.full_width = await page.$eval('#full-img', (i) => i.naturalWidth);
      await page.keyboard.press('Escape');
      const info = await page.evaluate(async () => (await fetch('/api/info')).json());
      out.want = info.classes.find((c) => c !== first.human);
      await page.keyboard.press(String(info.classes.indexOf(out.want) + 1));
      await settle(page, first.seq, out.want);
      out.labelled = first.seq;
    } else if (step === 'accept') {
      out.before = await shown(page);
      await page.keyboard.press('a');
      await page.waitForFunction(() => [...document.querySelectorAll('.card')].every((c) =>
        c.dataset.human !== '' || c.dataset.machine === 'uncertain'), {timeout: 10000});
      out.after = await shown(page);
    }
  } catch (e) {
    out.errors.push('driver: ' + (e && e.stack ? e.stack : String(e)));
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}
main();
