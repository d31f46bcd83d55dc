// The galmorph explorer page. Everything shown is built with createElement / textContent /
// setAttribute from the server's JSON: no data is ever parsed as HTML. Nothing loads from the
// network but this page's own server (its Content-Security-Policy says so too).
'use strict';

const state = {
  info: null,
  view: 'browse',
  browseOffset: 0,
  current: null, // galaxy shown in the detail panel
  like: [],
  unlike: [],
  lists: {}, // last ranked list of each view, for CSV: name -> [{id, score}]
  anomaly: null,
  saving: false,
  terms: [],
  mapSelection: [],
};

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = String(v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

async function api(url, body) {
  const init = body === undefined ? {} : { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) };
  const res = await fetch(url, init);
  const type = res.headers.get('content-type') || '';
  const data = type.startsWith('application/json') ? await res.json() : await res.text();
  if (!res.ok) throw new Error((data && data.error) || `${res.status} ${res.statusText}`);
  return data;
}

function status(text, isError) {
  const s = document.getElementById('status');
  s.textContent = text;
  s.className = isError ? 'error' : '';
}

function imageUrl(id, size) {
  return `/image/${encodeURIComponent(id)}?size=${size}`;
}

/** A clickable galaxy tile: image, id and an optional score line. */
function tile(id, score, size) {
  const t = el('figure', { class: 'tile', 'data-id': id, title: id },
    el('img', { src: imageUrl(id, size || 160), alt: id, loading: 'lazy' }),
    el('figcaption', { text: id }));
  if (score !== undefined && score !== null) t.append(el('div', { class: 'score', text: score }));
  if (state.like.includes(id)) t.classList.add('like');
  if (state.unlike.includes(id)) t.classList.add('unlike');
  t.addEventListener('click', () => openGalaxy(id));
  return t;
}

function fill(container, rows, fmt) {
  container.replaceChildren(...rows.map((r) => tile(r.id, fmt ? fmt(r) : undefined)));
}

function showView(name) {
  state.view = name;
  for (const b of document.querySelectorAll('#tabs button')) b.classList.toggle('active', b.dataset.view === name);
  for (const v of document.querySelectorAll('.view')) v.classList.toggle('active', v.id === `view-${name}`);
  if (name === 'anomaly') refreshAnomaly();
  if (name === 'map') drawMap();
}

// --- Browse ------------------------------------------------------------------------------------

async function loadBrowse() {
  const page = await api(`/api/galaxies?offset=${state.browseOffset}&limit=300`);
  const grid = document.getElementById('browse-grid');
  for (const id of page.ids) grid.append(tile(id));
  state.browseOffset += page.ids.length;
  document.getElementById('browse-count').textContent = `${state.browseOffset} of ${page.total} galaxies`;
  document.getElementById('browse-more').hidden = state.browseOffset >= page.total;
}

function setZoom(px) {
  document.getElementById('browse-grid').style.setProperty('--tile', `${px}px`);
}

// --- Detail panel --------------------------------------------------------------------------------

async function openGalaxy(id) {
  state.current = id;
  const g = await api(`/api/galaxy?id=${encodeURIComponent(id)}`);
  const d = document.getElementById('detail');
  const like = el('button', { id: 'detail-like', text: 'like this', onclick: () => mark(id, 'like') });
  const unlike = el('button', { id: 'detail-unlike', text: 'not like this', onclick: () => mark(id, 'unlike') });
  const fractions = el('table', { id: 'detail-fractions' });
  const shown = g.fractions.slice().sort((a, b) => b.mean - a.mean);
  if (shown.length === 0) fractions.append(el('tr', {}, el('td', { text: state.info && state.info.predictionProgress.total === 0 ? 'no model: start with --model for predicted vote fractions' : 'predictions are being computed…' })));
  else fractions.append(el('tr', {}, el('th', { text: 'answer' }), el('th', { text: 'fraction ± MC-dropout std' }), el('th', {})));
  for (const f of shown.slice(0, 25)) {
    const bar = el('div', { class: 'bar' });
    bar.style.width = `${Math.round(100 * Math.max(0, Math.min(1, f.mean || 0)))}%`;
    fractions.append(el('tr', {}, el('td', { text: f.column }), el('td', { class: 'num', text: f.std === null ? `${f.mean}` : `${f.mean.toFixed(3)} ± ${f.std.toFixed(3)}` }), el('td', { style: 'width:70px' }, bar)));
  }
  const columns = el('table', { id: 'detail-columns' });
  for (const [k, v] of Object.entries(g.row)) columns.append(el('tr', {}, el('td', { text: k }), el('td', { text: v })));
  d.replaceChildren(...[
    el('img', { class: 'detail-image', src: imageUrl(id, 320), alt: id }),
    el('div', { class: 'detail-id', id: 'detail-id', text: id }),
    g.label === null ? null : el('div', { class: 'hint', text: `your anomaly score: ${g.label}` }),
    el('div', { class: 'toolbar' }, like, unlike),
    el('h3', { text: 'Predicted vote fractions' }),
    fractions,
    el('h3', { text: 'Catalogue' }),
    columns,
  ].filter((x) => x !== null));
  if (state.view === 'similar' || state.view === 'browse') await showNeighbours(id);
}

async function showNeighbours(id) {
  const k = Number(document.getElementById('similar-k').value) || 10;
  const r = await api(`/api/similar?id=${encodeURIComponent(id)}&k=${k}`);
  document.getElementById('similar-query').textContent = id;
  state.lists.neighbours = r.neighbours.map((n) => ({ id: n.id, score: n.distance }));
  fill(document.getElementById('similar-grid'), r.neighbours, (n) => `${n.rank}. ${n.distance.toFixed(4)}`);
}

function mark(id, which) {
  const other = which === 'like' ? 'unlike' : 'like';
  state[other] = state[other].filter((x) => x !== id);
  if (!state[which].includes(id)) state[which].push(id);
  renderMarks();
}

function renderMarks() {
  for (const which of ['like', 'unlike']) {
    document.getElementById(`${which}-list`).replaceChildren(
      ...state[which].map((id) => el('span', { class: 'chip', title: 'remove', text: `${id} ×`, onclick: () => { state[which] = state[which].filter((x) => x !== id); renderMarks(); } })),
    );
  }
}

async function rankLike() {
  if (state.like.length === 0) return status('mark at least one galaxy as "like this" (open it, then "like this")', true);
  const r = await api('/api/like', { like: state.like, unlike: state.unlike, top: 60 });
  state.lists.like = r.rows;
  fill(document.getElementById('like-grid'), r.rows, (x) => `${x.rank}. ${x.score.toFixed(3)}`);
}

// --- Describe in words ----------------------------------------------------------------------------

function renderTerms() {
  const box = document.getElementById('describe-terms');
  box.replaceChildren(...state.terms.map((t, ti) => el('div', { class: 'term' },
    el('b', { text: t.phrase }), ' → ',
    ...t.answers.map((a, ai) => el('label', { style: 'margin-right:10px' }, `${a.column} weight `,
      el('input', { type: 'number', min: 0, step: 0.1, value: a.weight, 'data-term': ti, 'data-answer': ai, oninput: (ev) => { a.weight = Math.max(0, Number(ev.target.value) || 0); } }))),
    el('button', { text: 'remove', onclick: () => { state.terms.splice(ti, 1); renderTerms(); } }))));
}

async function describe() {
  const q = document.getElementById('describe-text').value;
  const absolute = document.getElementById('describe-absolute').checked;
  const r = await api(`/api/describe?q=${encodeURIComponent(q)}&absolute=${absolute}&top=60`);
  state.terms = r.terms;
  renderTerms();
  const hint = document.getElementById('describe-hint');
  const parts = [];
  if (r.waiting) parts.push(`predictions are being computed (${r.waiting.done}/${r.waiting.total})${r.waiting.error ? `: ${r.waiting.error}` : ''}; try again in a moment`);
  if (r.terms.length === 0) parts.push(`no known words; try: ${(state.info.phrases || []).join(', ')}`);
  if (r.unknown && r.unknown.length) parts.push(`not understood: ${r.unknown.join(' ')}`);
  hint.textContent = parts.join(' · ');
  showDescribed(r);
}

function showDescribed(r) {
  state.lists.describe = r.rows;
  fill(document.getElementById('describe-grid'), r.rows, (x) => `${x.rank}. ${x.score.toFixed(3)}`);
}

async function rerank() {
  const absolute = document.getElementById('describe-absolute').checked;
  const r = await api('/api/describe', { terms: state.terms, absolute, top: 60 });
  showDescribed(r);
}

// --- Score anomalies ----------------------------------------------------------------------------

function renderAnomaly(s) {
  state.anomaly = s;
  const current = s.queue[0];
  const img = document.getElementById('anomaly-image');
  const fig = document.getElementById('anomaly-current');
  if (current === undefined) {
    fig.setAttribute('data-id', '');
    img.removeAttribute('src');
    document.getElementById('anomaly-id').textContent = 'every galaxy has been scored or skipped';
  } else {
    fig.setAttribute('data-id', current);
    img.src = imageUrl(current, 360);
    img.alt = current;
    document.getElementById('anomaly-id').textContent = current;
  }
  document.getElementById('anomaly-state').textContent =
    `${s.labelled} of ${s.size} scored${s.resumed ? ` (${s.resumed} resumed from the labels file)` : ''} · ` +
    `${s.phase === 'random' ? 'random start' : 'expected improvement'} · ${s.queue.length} left in this batch of ${s.batchSize} · labels: ${s.labelsFile}`;
  fill(document.getElementById('anomaly-best'), s.best, (b) => `score ${b.score}`);
  state.lists.anomaly = s.ranking.map((g) => ({ id: g.id, score: g.predicted }));
  fill(document.getElementById('anomaly-ranking'), s.ranking, (g) => `${g.rank}. ${g.predicted.toFixed(2)}${g.label === undefined || g.label === null ? '' : ` (${g.label})`}`);
  fig.setAttribute('data-ready', current === undefined ? 'done' : 'yes');
}

async function refreshAnomaly() {
  renderAnomaly(await api('/api/anomaly?top=20'));
}

async function sendScore(body) {
  if (state.saving || !state.anomaly || state.anomaly.queue[0] === undefined) return;
  state.saving = true;
  document.getElementById('anomaly-current').setAttribute('data-ready', 'saving');
  try {
    // the reply comes after the score is fsync'ed, and only then is the next galaxy shown
    renderAnomaly(await api('/api/anomaly/score?top=20', { id: state.anomaly.queue[0], ...body }));
    status(body.skip ? 'skipped' : `saved ${body.score}`);
  } catch (err) {
    status(String(err.message || err), true);
    document.getElementById('anomaly-current').setAttribute('data-ready', 'yes');
  } finally {
    state.saving = false;
  }
}

// --- Map ----------------------------------------------------------------------------------------

let plotlyLoading;
function loadPlotly() {
  plotlyLoading ??= new Promise((resolve, reject) => {
    const s = el('script', { src: '/static/plotly.js' });
    s.addEventListener('load', () => resolve(window.Plotly));
    s.addEventListener('error', () => reject(new Error('plotly did not load')));
    document.head.append(s);
  });
  return plotlyLoading;
}

function plotText(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

async function drawMap() {
  const method = document.getElementById('map-method').value;
  const colour = document.getElementById('map-colour').value;
  status(method === 'umap' ? 'computing UMAP…' : '');
  const [Plotly, m] = await Promise.all([loadPlotly(), api(`/api/map?method=${method}&color=${encodeURIComponent(colour)}`)]);
  const marker = { size: 6, opacity: 0.8 };
  if (m.color) Object.assign(marker, { color: m.color, colorscale: 'Viridis', showscale: true, colorbar: { title: { text: colour } } });
  const plot = document.getElementById('map-plot');
  await Plotly.react(plot, [{ type: m.ids.length > 20000 ? 'scattergl' : 'scatter', mode: 'markers', x: m.x, y: m.y, text: m.ids.map(plotText), customdata: m.ids, hoverinfo: 'text', marker }],
    { dragmode: 'lasso', margin: { l: 40, r: 10, t: 10, b: 30 }, xaxis: { title: { text: `${method.toUpperCase()} 1` } }, yaxis: { title: { text: `${method.toUpperCase()} 2` } } },
    { displaylogo: false, responsive: true });
  status('');
  plot.removeAllListeners && plot.removeAllListeners('plotly_selected');
  plot.on('plotly_selected', (ev) => {
    const ids = ev && ev.points ? ev.points.map((p) => p.customdata) : [];
    state.mapSelection = ids;
    state.lists.map = ids.map((id) => ({ id }));
    fill(document.getElementById('map-grid'), ids.map((id) => ({ id })));
  });
  plot.on('plotly_click', (ev) => ev.points[0] && openGalaxy(ev.points[0].customdata));
  plot.setAttribute('data-ready', 'yes');
}

// --- CSV ----------------------------------------------------------------------------------------

async function download(name, rows) {
  if (!rows || rows.length === 0) return status('nothing to export yet', true);
  const res = await fetch('/export/list.csv', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name, rows }) });
  saveBlob(name, await res.blob());
}

function saveBlob(name, blob) {
  const a = el('a', { href: URL.createObjectURL(blob), download: name });
  document.body.append(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

// --- Start ----------------------------------------------------------------------------------------

function on(id, event, fn) {
  document.getElementById(id).addEventListener(event, (ev) => Promise.resolve(fn(ev)).catch((err) => status(String(err.message || err), true)));
}

async function start() {
  state.info = await api('/api/info');
  status(`${state.info.galaxies} galaxies · ${state.info.catalog}`);
  for (const b of document.querySelectorAll('#tabs button')) b.addEventListener('click', () => Promise.resolve(showView(b.dataset.view)).catch((err) => status(String(err.message || err), true)));
  on('zoom', 'input', (ev) => setZoom(ev.target.value));
  document.getElementById('browse-grid').addEventListener('wheel', (ev) => {
    if (!ev.ctrlKey) return;
    ev.preventDefault();
    const z = document.getElementById('zoom');
    z.value = String(Number(z.value) + (ev.deltaY < 0 ? 16 : -16));
    setZoom(z.value);
  }, { passive: false });
  on('browse-more', 'click', loadBrowse);
  on('similar-k', 'change', () => state.current && showNeighbours(state.current));
  on('similar-csv', 'click', () => download('neighbours.csv', state.lists.neighbours));
  on('like-rank', 'click', rankLike);
  on('like-clear', 'click', () => { state.like = []; state.unlike = []; renderMarks(); });
  on('like-csv', 'click', () => download('like-these-ranking.csv', state.lists.like));
  on('selection-csv', 'click', () => download('selections.csv', [...state.like.map((id) => ({ id, list: 'like' })), ...state.unlike.map((id) => ({ id, list: 'not like' }))]));
  on('describe-go', 'click', describe);
  on('describe-text', 'keydown', (ev) => ev.key === 'Enter' && describe());
  on('describe-rerank', 'click', rerank);
  on('describe-csv', 'click', () => download('words-ranking.csv', state.lists.describe));
  on('describe-add', 'change', (ev) => {
    const column = ev.target.value;
    if (!column) return;
    state.terms.push({ phrase: column, answers: [{ column, weight: 1 }] });
    ev.target.value = '';
    renderTerms();
  });
  on('anomaly-csv', 'click', async () => {
    const res = await fetch('/export/anomaly-ranking.csv');
    if (!res.ok) return status('score at least 2 galaxies first', true);
    saveBlob('anomaly-ranking.csv', await res.blob());
  });
  on('map-method', 'change', drawMap);
  on('map-colour', 'change', drawMap);
  on('map-csv', 'click', () => download('map-selection.csv', state.lists.map));
  const buttons = document.getElementById('anomaly-buttons');
  for (let s = 0; s <= 5; s++) buttons.append(el('button', { text: s, 'data-score': s, onclick: () => sendScore({ score: s }) }));
  buttons.append(el('button', { text: 's', title: 'skip', onclick: () => sendScore({ skip: true }) }));
  document.addEventListener('keydown', (ev) => {
    if (state.view !== 'anomaly' || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.target instanceof HTMLInputElement || ev.target instanceof HTMLSelectElement) return;
    if (/^[0-5]$/.test(ev.key)) sendScore({ score: Number(ev.key) });
    else if (ev.key === 's') sendScore({ skip: true });
  });
  const add = document.getElementById('describe-add');
  const colour = document.getElementById('map-colour');
  colour.append(el('option', { value: 'anomaly', text: 'anomaly score (predicted)' }));
  for (const c of state.info.numericColumns) colour.append(el('option', { value: c, text: c }));
  const fillPredictions = (cols) => {
    for (const c of cols) {
      add.append(el('option', { value: c, text: c }));
      colour.append(el('option', { value: c, text: `predicted ${c}` }));
    }
  };
  if (state.info.predictions) fillPredictions(state.info.predictions);
  else if (state.info.predictionProgress.total > 0) {
    // the model is still predicting: pick its answers up when it is done
    const poll = setInterval(async () => {
      const info = await api('/api/info');
      if (info.predictions) {
        clearInterval(poll);
        state.info = info;
        fillPredictions(info.predictions);
      }
    }, 2000);
  }
  await loadBrowse();
  document.body.setAttribute('data-ready', 'yes');
}

start().catch((err) => status(String(err.message || err), true));
