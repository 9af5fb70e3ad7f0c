/* irbis review: the page. Talks to the server's JSON API (docs/review.md); nothing else is fetched.
 * Keyboard first: 1-9 classes, e empty, arrows move, Enter full size, u undo, a accept page,
 * [ ] pages. Every label is sent (and stored) the moment the key is pressed. */
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const state = {info: null, page: null, sel: 0, offset: 0, limit: 24, undo: [], full: null};

  if (location.search.indexOf('token=') >= 0) /* the cookie carries the token from now on */
    history.replaceState(null, '', location.pathname);

  function status(text, error) {
    $('status').textContent = text;
    $('status').className = error ? 'error' : '';
  }

  async function api(path, body) {
    const opt = body ? {method: 'POST', body: body,
                        headers: {'Content-Type': 'application/x-www-form-urlencoded'}} : {};
    const r = await fetch(path, opt);
    const text = await r.text();
    if (!r.ok) throw new Error(text || r.statusText);
    return r.headers.get('Content-Type').indexOf('json') >= 0 ? JSON.parse(text) : text;
  }

  function option(sel, value, text) {
    const o = document.createElement('option');
    o.value = value;
    o.textContent = text === undefined ? value : text;
    sel.appendChild(o);
  }

  function query() {
    const p = new URLSearchParams({queue: $('queue').value, offset: state.offset, limit: state.limit});
    if ($('queue').value === 'class') p.set('cls', $('cls').value);
    for (const k of ['label', 'reviewed']) if ($(k).value) p.set(k, $(k).value);
    /* the camera's key is its name's bytes already percent-encoded (a name need not be UTF-8) */
    return p + ($('camera').value ? '&camera=' + $('camera').value : '');
  }

  async function load(keepSel) {
    try {
      state.page = await api('/api/sequences?' + query());
    } catch (e) { status('cannot load sequences: ' + e.message, true); return; }
    if (!keepSel) state.sel = 0;
    state.sel = Math.min(state.sel, Math.max(0, state.page.sequences.length - 1));
    render();
  }

  function labelOf(s) { return s.human !== null ? s.human : s.machine; }

  function card(s, i) {
    const c = document.createElement('div');
    c.className = 'card' + (i === state.sel ? ' sel' : '') + (s.human !== null ? ' human' : '');
    c.dataset.seq = s.name;
    c.dataset.human = s.human === null ? '' : s.human;
    c.dataset.machine = s.machine;
    const head = document.createElement('div');
    head.className = 'head';
    const a = document.createElement('span'), b = document.createElement('span');
    a.textContent = s.name + ' (' + s.n + ' image' + (s.n === 1 ? '' : 's') + ')';
    b.textContent = s.start;
    head.append(a, b);
    const thumbs = document.createElement('div');
    thumbs.className = 'thumbs';
    s.images.slice(0, 6).forEach((p, k) => {
      const im = document.createElement('img');
      im.src = '/thumb?p=' + s.keys[k];
      im.alt = p;
      im.title = p;
      im.addEventListener('click', (ev) => { ev.stopPropagation(); select(i); openFull(k); });
      thumbs.appendChild(im);
    });
    const lab = document.createElement('div');
    lab.className = 'lab';
    const top = Math.max.apply(null, s.probs);
    if (s.human !== null) {
      const h = document.createElement('span');
      h.className = 'h';
      h.textContent = s.human + ' (human)';
      lab.append(h, ' ');
    }
    const m = document.createElement('span');
    m.className = 'm';
    m.textContent = 'machine: ' + s.machine + ' ' + (100 * top).toFixed(0) + '%';
    lab.appendChild(m);
    const btns = document.createElement('div');
    btns.className = 'btns';
    state.info.classes.forEach((cl, k) => {
      const bt = document.createElement('button');
      bt.textContent = (k < 9 ? (k + 1) + ' ' : '') + cl;
      bt.addEventListener('click', (ev) => { ev.stopPropagation(); select(i); setLabel(cl); });
      btns.appendChild(bt);
    });
    c.append(head, thumbs, lab, btns);
    c.addEventListener('click', () => select(i));
    return c;
  }

  function render() {
    const cards = $('cards');
    cards.textContent = '';
    state.page.sequences.forEach((s, i) => cards.appendChild(card(s, i)));
    const n = state.page.total, from = n ? state.offset + 1 : 0;
    $('page').textContent = from + '-' + Math.min(n, state.offset + state.limit) + ' of ' + n;
    const sel = cards.children[state.sel];
    if (sel) sel.scrollIntoView({block: 'nearest'});
  }

  function select(i) {
    const cards = $('cards').children;
    if (!cards.length) return;
    i = Math.max(0, Math.min(cards.length - 1, i));
    if (cards[state.sel]) cards[state.sel].classList.remove('sel');
    state.sel = i;
    cards[i].classList.add('sel');
    cards[i].scrollIntoView({block: 'nearest'});
  }

  /* pairs: [sequence key, label]; a key is the name's bytes percent-encoded, sent as it is */
  async function send(pairs) {
    const body = pairs.map(([key, label]) => 'seq=' + key + '&label=' + encodeURIComponent(label)).join('&');
    await api('/api/label', body);
    for (const [key, label] of pairs) {
      const s = state.page.sequences.find((x) => x.key === key);
      if (s) s.human = label === '' ? null : label;
    }
  }

  async function change(pairs, what) {
    const before = pairs.map(([seq]) => {
      const s = state.page.sequences.find((x) => x.key === seq);
      return [seq, s && s.human !== null ? s.human : ''];
    });
    try {
      await send(pairs);
    } catch (e) { status('not stored: ' + e.message, true); return false; }
    state.undo.push(before);
    status(what + ' (stored)');
    render();
    return true;
  }

  async function setLabel(label) {
    const s = state.page && state.page.sequences[state.sel];
    if (!s || !label) return;
    if (await change([[s.key, label]], s.name + ' \u2192 ' + label)) select(state.sel + 1);
  }

  async function acceptPage() {
    const classes = state.info.classes;
    const pairs = state.page.sequences.filter((s) => s.human === null && classes.indexOf(s.machine) >= 0)
      .map((s) => [s.key, s.machine]);
    if (!pairs.length) { status('nothing to accept on this page'); return; }
    await change(pairs, 'accepted ' + pairs.length + ' sequences');
  }

  async function undo() {
    const last = state.undo.pop();
    if (!last) { status('nothing to undo'); return; }
    try {
      await send(last);
    } catch (e) { state.undo.push(last); status('undo not stored: ' + e.message, true); return; }
    status('undone (' + last.length + ' sequence' + (last.length === 1 ? '' : 's') + ')');
    render();
  }

  function page(dir) {
    const next = state.offset + dir * state.limit;
    if (next < 0 || (dir > 0 && next >= state.page.total)) return;
    state.offset = next;
    load(false);
  }

  function openFull(k) {
    const s = state.page.sequences[state.sel];
    if (!s) return;
    state.full = {s: s, k: Math.max(0, Math.min(s.images.length - 1, k))};
    $('full-img').src = '/img?p=' + s.keys[state.full.k];
    $('full-title').textContent = s.name + ': ' + s.images[state.full.k] + ' (' + (state.full.k + 1) + '/' +
      s.images.length + ') ' + labelOf(s);
    $('full').hidden = false;
  }

  function closeFull() { $('full').hidden = true; state.full = null; }

  function columns() {
    const cards = $('cards').children;
    let n = 1;
    while (n < cards.length && cards[n].offsetTop === cards[0].offsetTop) n++;
    return n;
  }

  function onKey(ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.target.tagName === 'SELECT') return;
    const k = ev.key;
    if (state.full) {
      if (k === 'Escape' || k === 'Enter') closeFull();
      else if (k === 'ArrowRight') openFull(state.full.k + 1);
      else if (k === 'ArrowLeft') openFull(state.full.k - 1);
      else if (/^[1-9e]$/.test(k)) { closeFull(); onKey(ev); }
      else return;
      ev.preventDefault();
      return;
    }
    const classes = state.info.classes;
    if (/^[1-9]$/.test(k) && +k <= classes.length) setLabel(classes[+k - 1]);
    else if (k === 'e' && state.info.blank) setLabel(state.info.blank);
    else if (k === 'u') undo();
    else if (k === 'a') acceptPage();
    else if (k === 'ArrowRight') select(state.sel + 1);
    else if (k === 'ArrowLeft') select(state.sel - 1);
    else if (k === 'ArrowDown') select(state.sel + columns());
    else if (k === 'ArrowUp') select(state.sel - columns());
    else if (k === 'Enter') openFull(0);
    else if (k === ']') page(1);
    else if (k === '[') page(-1);
    else return;
    ev.preventDefault();
  }

  async function start() {
    try {
      state.info = await api('/api/info');
    } catch (e) { status('cannot reach irbis review: ' + e.message, true); return; }
    const info = state.info;
    info.classes.forEach((c) => { option($('cls'), c); option($('label'), c); });
    option($('label'), 'uncertain');
    if (info.positive) $('cls').value = info.positive;
    info.cameras.forEach((c, i) => option($('camera'), info.camera_keys[i], c));
    $('keys').textContent = 'keys: ' + info.classes.slice(0, 9).map((c, i) => (i + 1) + ' ' + c).join(', ') +
      (info.blank ? ', e ' + info.blank : '') + ', arrows move, Enter full size, u undo, a accept page, [ ] pages. ' +
      info.sequences + ' sequences, ' + info.reviewed + ' reviewed; survey ' + info.survey;
    for (const id of ['queue', 'cls', 'camera', 'label', 'reviewed'])
      $(id).addEventListener('change', () => { state.offset = 0; $(id).blur(); load(false); });
    $('prev').addEventListener('click', () => page(-1));
    $('next').addEventListener('click', () => page(1));
    $('accept').addEventListener('click', acceptPage);
    $('undo').addEventListener('click', undo);
    $('full-close').addEventListener('click', closeFull);
    $('export').addEventListener('click', async () => {
      status('writing outputs ...');
      try { status(await api('/api/export', 'now=1')); } catch (e) { status('outputs: ' + e.message, true); }
    });
    document.addEventListener('keydown', onKey);
    await load(false);
    if (info.readonly) { /* browsing only: a label sent is refused (403) with the same words */
      document.body.dataset.readonly = '1';
      $('export').disabled = true;
      status(info.out + ' is read-only: browsing only, labels cannot be saved', true);
    }
    document.body.dataset.ready = '1';
  }
  start();
})();
