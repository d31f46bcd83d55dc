/**
 * The notebook form of the anomaly finder: the session's next galaxies as images, each with buttons
 * 0-5. In the classic Jupyter Notebook a button runs, in the tslab kernel,
 *   (globalThis as any).__galmorphAnomalyForms("<form>", "<galaxy id>", <score>)
 * which calls `session.score(id, score)`: the score is appended to the labels file at once, and the
 * reply ("saved 4 for …") appears under the galaxy. Where buttons cannot reach a kernel (JupyterLab,
 * an exported HTML page) the form says to score from a cell instead, with
 * `session.score(id, s)` or `session.scoreMany({ id: s, … })`. Running the cell again shows the next
 * galaxies (the Gaussian process refits on the new scores); the "next batch" button does that.
 * Each tile also has "skip" (not shown again this session) and a caption from the catalogue; a click
 * on an image zooms it; "undo" takes back the latest score. While the Gaussian process predicts every
 * galaxy alike, the form says so: its picks are then no better than random.
 */
import type { Catalog, CatalogRow } from '../src/data/catalog';
import { thumbnailDataUri } from '../src/data/images';
import { MAX_SCORE, MIN_SCORE } from '../src/anomaly/labels';
import type { AnomalySession } from '../src/anomaly/session';

/**
 * What the form needs of an `AnomalySession` (structural: tslab type-checks notebooks against the
 * kernel's sources but `galmorph` against dist/, and a class with private fields would not match).
 */
export type AnomalyFormSession = Pick<AnomalySession, 'next' | 'score' | 'skip' | 'undo' | 'ranking' | 'summary' | 'labelsFile' | 'labelledCount' | 'batchSize' | 'phase'>;

export interface AnomalyFormOptions {
  /** Galaxies to show. Default: the session's batch size. */
  count?: number;
  /** Displayed image size in pixels. Default 160. */
  size?: number;
  /** Tiles per row. Default 5. */
  columns?: number;
  /** Name of the session variable in the notebook, used in the instructions. Default `session`. */
  variable?: string;
  /** A caption from each galaxy's catalogue row (e.g. its class or redshift), under its id. */
  captions?: (row: CatalogRow) => string;
  /** Pixel size of an image clicked to zoom. Default twice `size`, at least 320. */
  zoom?: number;
}

export interface AnomalyForm {
  /** The form's key in the kernel's registry (what its buttons send). */
  key: string;
  /** The galaxies shown. */
  ids: string[];
  html: string;
}

/** The kernel-side function the buttons call: `(formKey, galaxyId, score) => reply`. */
export const FORM_REGISTRY_GLOBAL = '__galmorphAnomalyForms';

const sessions = new Map<string, AnomalyFormSession>();
let formCounter = 0;

function formSession(key: string): AnomalyFormSession {
  const session = sessions.get(key);
  if (!session) throw new Error(`galmorph: no anomaly form '${key}' in this kernel (it was restarted?): run the form's cell again`);
  return session;
}

/** Records a score sent by a form's button; the reply is shown under the galaxy. */
export function scoreFromForm(key: string, id: string, score: number): string {
  const session = formSession(key);
  session.score(id, score);
  return `saved ${score} for ${id}: ${session.summary()}`;
}

/** A tile's "skip": the galaxy is not proposed again in this session (nothing is written to disk). */
export function skipFromForm(key: string, id: string): string {
  formSession(key).skip(id);
  return `skipped ${id}: not shown again in this session`;
}

/** The form's "undo": takes back the session's latest score. */
export function undoFromForm(key: string): string {
  const session = formSession(key);
  const undone = session.undo();
  if (!undone) return 'nothing to undo: no score given since the session was opened';
  const now = undone.restored === undefined ? 'unscored again' : `back to ${undone.restored}`;
  return `undid ${undone.score} for ${undone.id} (${now}): ${session.summary()}`;
}

/** Predictions closer together than this (on the 0-5 scale) count as "every galaxy alike". */
export const FLAT_SPREAD = 0.05;

/**
 * Why the Gaussian process cannot yet tell galaxies apart, or undefined when it can (or before it
 * is used): with every unscored galaxy predicted alike, expected improvement picks at random.
 */
export function flatWarning(session: Pick<AnomalyFormSession, 'ranking' | 'labelledCount'>): string | undefined {
  if (session.labelledCount < 2) return undefined;
  const predicted = session.ranking({ knownScores: false }).filter((g) => g.label === undefined).map((g) => g.predicted);
  if (predicted.length === 0) return undefined;
  const finite = predicted.filter(Number.isFinite);
  const spread = finite.length === 0 ? 0 : Math.max(...finite) - Math.min(...finite);
  if (finite.length === predicted.length && spread >= FLAT_SPREAD) return undefined;
  const level = finite.length ? ` (about ${(finite.reduce((a, b) => a + b, 0) / finite.length).toFixed(2)})` : '';
  return (
    `The Gaussian process is still flat: it predicts every unscored galaxy alike${level}, so the next galaxies are no better than random. ` +
    `It learns from differences between scores: score some galaxies higher than others (a few 4s and 5s among the 0s).`
  );
}

/** Whether this kernel holds form `key` (false after a restart: the page still shows the old form). */
export function knowsForm(key: string): boolean {
  return sessions.has(key);
}

/** What a button gets back from a kernel that does not hold its form: the page then says to run the cell again. */
export const STALE_FORM_REPLY = 'GALMORPH_STALE_FORM';

(globalThis as Record<string, unknown>)[FORM_REGISTRY_GLOBAL] = Object.assign((key: string, id: string, score: number) => scoreFromForm(key, id, score), {
  knows: knowsForm,
  skip: skipFromForm,
  undo: undoFromForm,
});

/** JSON for inside a <script> element. */
function js(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The form's HTML for the session's next galaxies (registers the session for its buttons). */
export async function anomalyFormHtml(session: AnomalyFormSession, catalog: Catalog, options: AnomalyFormOptions = {}): Promise<AnomalyForm> {
  const size = options.size ?? 160;
  const zoom = options.zoom ?? Math.max(2 * size, 320);
  const columns = options.columns ?? 5;
  const v = options.variable ?? 'session';
  const key = `form-${process.pid}-${++formCounter}`;
  sessions.set(key, session);
  const ids = session.next(options.count ?? session.batchSize);
  const rows = new Map(catalog.rows.map((r) => [r[catalog.idCol]!, r]));
  const tiles = await Promise.all(
    ids.map(async (id) => {
      const row = rows.get(id);
      if (!row) throw new Error(`galmorph: galaxy '${id}' of the session is not in column '${catalog.idCol}' of ${catalog.file}`);
      // One image at the zoomed size, shown small in the tile: zooming needs no second copy.
      const src = await thumbnailDataUri(catalog.imagePath(row), zoom);
      const buttons = Array.from({ length: MAX_SCORE - MIN_SCORE + 1 }, (_, i) => MIN_SCORE + i)
        .map((s) => `<button type="button" class="galmorph-score" data-galaxy-id="${esc(id)}" data-score="${s}" style="width:24px;padding:1px 0">${s}</button>`)
        .join('');
      const skip = `<button type="button" class="galmorph-skip" data-galaxy-id="${esc(id)}" title="not now: not shown again in this session" style="margin-left:4px;padding:1px 3px">skip</button>`;
      const caption = options.captions ? options.captions(row) : '';
      return (
        `<figure class="galmorph-tile" data-galaxy-id="${esc(id)}" style="margin:0;text-align:center;font:11px sans-serif;width:${size}px">` +
        `<img class="galmorph-zoomable" src="${src}" width="${size}" height="${size}" title="click to zoom" style="display:block;border-radius:3px;cursor:zoom-in" alt="${esc(id)}"/>` +
        `<figcaption style="margin:2px 0;overflow-wrap:anywhere;font-weight:600">${esc(id)}</figcaption>` +
        (caption ? `<div class="galmorph-caption" style="color:#333;overflow-wrap:anywhere;margin-bottom:2px">${esc(caption)}</div>` : '') +
        `<div style="display:flex;gap:1px;justify-content:center">${buttons}${skip}</div>` +
        `<div class="galmorph-status" style="color:#555;min-height:14px;overflow-wrap:anywhere"></div></figure>`
      );
    }),
  );
  const example = ids[0] ?? 'galaxy id';
  const flat = flatWarning(session);
  const warning = flat ? `<div class="galmorph-flat-warning" style="font:12px sans-serif;color:#8a4b00;background:#fff4e0;border-left:3px solid #e69500;padding:4px 8px;margin:4px 0">${esc(flat)}</div>` : '';
  const toolbar =
    `<div style="display:flex;gap:6px;align-items:center;margin:6px 0;font:12px sans-serif">` +
    `<button type="button" class="galmorph-undo" title="take back the latest score">undo last score</button>` +
    `<button type="button" class="galmorph-next" title="run this cell again: the Gaussian process refits on the scores">next batch</button>` +
    `<span class="galmorph-form-status" style="color:#555"></span></div>`;
  const intro =
    ids.length === 0
      ? '<div>Every galaxy has been scored.</div>'
      : `<div style="font:600 13px sans-serif;margin:4px 0">Score these ${ids.length} galaxies: ${MIN_SCORE} = ordinary … ${MAX_SCORE} = exactly what I am looking for ` +
        `(${session.phase === 'random' ? 'random galaxies: the first ones are chosen at random' : 'chosen by expected improvement'})</div>` +
        `<div style="font:12px sans-serif;color:#444;margin-bottom:6px">A button runs <code>${esc(v)}.score(id, s)</code> in the kernel: the score is appended to ` +
        `<code>${esc(session.labelsFile)}</code> at once (${session.labelledCount} scored so far). Buttons need the classic Jupyter Notebook with a live kernel; ` +
        `anywhere else, score from a cell: <code>${esc(v)}.score(${esc(JSON.stringify(example))}, 3)</code> or ` +
        `<code>${esc(v)}.scoreMany({ ${esc(JSON.stringify(example))}: 3, … })</code>, <code>${esc(v)}.skip(id)</code>, <code>${esc(v)}.undo()</code>. ` +
        `Run this cell again (or "next batch") for the next galaxies; click an image to zoom.</div>`;
  const rootId = `galmorph-anomaly-${key}`;
  // One click handler on the form (event delegation): tiles, toolbar and the zoom overlay alike.
  const script =
    `<script>(function(){var root=document.getElementById(${js(rootId)});if(!root)return;` +
    `var key=JSON.stringify(${js(key)}),formStatus=root.querySelector('.galmorph-form-status');` +
    `var kernel=function(){return window.IPython&&window.IPython.notebook&&window.IPython.notebook.kernel;};` +
    // After a kernel restart the page still shows this form but the kernel no longer holds its
    // session (or galmorph at all): the code asks first, and does nothing then.
    `var call=function(expr,status,done){var k=kernel();` +
    `if(!k){status.style.color='#b00';status.textContent='no live kernel here: use '+${js(v)}+' in a cell (see above)';return;}` +
    `var code='(() => { const f = (globalThis as any).${FORM_REGISTRY_GLOBAL}; return f && f.knows && f.knows('+key+') ? '+expr+' : ${js(STALE_FORM_REPLY)}; })()';` +
    // tslab answers a comm_open the restarted page sends with "unknown msg_type: comm_open" on a
    // stream that can reach this request's callbacks, before or after the reply: never a reply.
    `var stale=false;var reply=function(text,failed){text=String(text).trim();` +
    `if(stale||/^unknown msg_type/.test(text))return;` +
    `if(text===${js(STALE_FORM_REPLY)}){stale=true;status.textContent='the kernel restarted: run this cell again';status.style.color='#b00';return;}` +
    `status.textContent=text;status.style.color=failed?'#b00':'#555';if(!failed&&done)done(text);};` +
    `k.execute(code,{iopub:{output:function(msg){var t=msg.header.msg_type;` +
    // tslab prints a cell's final string value as a stream; other kernels send an execute_result
    `if(t==='stream'){reply(msg.content.text,msg.content.name==='stderr');}` +
    `else if(t==='execute_result'){reply(String(msg.content.data['text/plain']||'').replace(/^['"]|['"]$/g,''),false);}` +
    // galmorph shows a failing cell as a display (kernel/errors.ts); other kernels send an error
    `else if(t==='display_data'&&msg.content.metadata&&msg.content.metadata.galmorph==='error'){reply(String(msg.content.data['text/plain']||'').split('\\n')[0],true);}` +
    `else if(t==='error'){reply(msg.content.ename+': '+msg.content.evalue,true);}}}},{silent:false,store_history:false});};` +
    `root.addEventListener('click',function(ev){var b=ev.target;` +
    `if(b.classList.contains('galmorph-zoomable')){` +
    // On the page's body, above the notebook's own stacking contexts; a click anywhere closes it.
    `var zoomed=document.createElement('div');zoomed.className='galmorph-zoom';` +
    `zoomed.style.cssText='position:fixed;inset:0;background:rgba(0,0,0,.75);display:flex;align-items:center;justify-content:center;z-index:100000;cursor:zoom-out';` +
    `zoomed.addEventListener('click',function(){zoomed.remove();});` +
    `var big=document.createElement('img');big.src=b.src;big.width=${zoom};big.height=${zoom};big.alt=b.alt;zoomed.appendChild(big);` +
    `var cap=document.createElement('div');cap.textContent=b.alt+' (click to close)';cap.style.cssText='color:#fff;font:13px sans-serif;position:absolute;bottom:20px';zoomed.appendChild(cap);` +
    `document.body.appendChild(zoomed);return;}` +
    `if(b.tagName!=='BUTTON')return;` +
    `var tile=b.closest('figure'),id=b.getAttribute('data-galaxy-id');` +
    `if(b.classList.contains('galmorph-score')){var s=Number(b.getAttribute('data-score')),status=tile.querySelector('.galmorph-status');` +
    `status.style.color='#555';status.textContent='saving '+s+'…';` +
    `call('f('+key+', '+JSON.stringify(id)+', '+s+')',status,function(){var mine=tile.querySelectorAll('button.galmorph-score');for(var j=0;j<mine.length;j++)mine[j].style.fontWeight=mine[j]===b?'700':'400';});}` +
    `else if(b.classList.contains('galmorph-skip')){call('f.skip('+key+', '+JSON.stringify(id)+')',tile.querySelector('.galmorph-status'),function(){tile.style.opacity='0.4';});}` +
    `else if(b.classList.contains('galmorph-undo')){call('f.undo('+key+')',formStatus,function(text){` +
    `var m=/^undid \\d+ for (\\S+)/.exec(text);if(!m)return;var tiles=root.querySelectorAll('figure.galmorph-tile');` +
    `for(var j=0;j<tiles.length;j++)if(tiles[j].getAttribute('data-galaxy-id')===m[1]){var bs=tiles[j].querySelectorAll('button.galmorph-score');for(var q=0;q<bs.length;q++)bs[q].style.fontWeight='400';tiles[j].querySelector('.galmorph-status').textContent='undone';}});}` +
    // "next batch" runs the form's own cell again, as the instructions say to do by hand.
    `else if(b.classList.contains('galmorph-next')){var nb=window.IPython&&window.IPython.notebook;var cellEl=root.closest('.cell');` +
    `var cells=nb?nb.get_cells():[],index=-1;for(var j=0;j<cells.length;j++)if(cells[j].element&&cells[j].element[0]===cellEl)index=j;` +
    `if(index<0){formStatus.style.color='#b00';formStatus.textContent='no live notebook here: run this cell again for the next batch';return;}` +
    `formStatus.style.color='#555';formStatus.textContent='fetching the next batch…';nb.execute_cells([index]);}` +
    `});})();</script>`;
  const html =
    `<div class="galmorph-anomaly-form" id="${esc(rootId)}">${intro}${warning}${ids.length ? toolbar : ''}` +
    `<div style="display:grid;grid-template-columns:repeat(${columns},${size}px);gap:10px">${tiles.join('')}</div>${script}</div>`;
  return { key, ids, html };
}
