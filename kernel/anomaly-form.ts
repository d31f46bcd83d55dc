/**
 * The notebook form of the anomaly finder: the session's next galaxies as images, each with buttons
 * 0-5. In the classic Jupyter Notebook a button runs, in the tslab kernel,
 *   (globalThis as any).__galmorphAnomalyForms("<form>", "<galaxy id>", <score>)
 * which calls `session.score(id, score)`: the score is appended to the labels file at once, and the
 * reply ("saved 4 for …") appears under the galaxy. Where buttons cannot reach a kernel (JupyterLab,
 * an exported HTML page) the form says to score from a cell instead, with
 * `session.score(id, s)` or `session.scoreMany({ id: s, … })`. Running the cell again shows the next
 * galaxies (the Gaussian process refits on the new scores).
 */
import type { Catalog } from '../src/data/catalog';
import { thumbnailDataUri } from '../src/data/images';
import { MAX_SCORE, MIN_SCORE } from '../src/anomaly/labels';
import type { AnomalySession } from '../src/anomaly/session';

/**
 * What the form needs of an `AnomalySession` (structural: tslab type-checks notebooks against the
 * kernel's sources but `galmorph` against dist/, and a class with private fields would not match).
 */
export type AnomalyFormSession = Pick<AnomalySession, 'next' | 'score' | 'summary' | 'labelsFile' | 'labelledCount' | 'batchSize' | 'phase'>;

export interface AnomalyFormOptions {
  /** Galaxies to show. Default: the session's batch size. */
  count?: number;
  /** Displayed image size in pixels. Default 160. */
  size?: number;
  /** Tiles per row. Default 5. */
  columns?: number;
  /** Name of the session variable in the notebook, used in the instructions. Default `session`. */
  variable?: string;
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

/** Records a score sent by a form's button; the reply is shown under the galaxy. */
export function scoreFromForm(key: string, id: string, score: number): string {
  const session = sessions.get(key);
  if (!session) throw new Error(`galmorph: no anomaly form '${key}' in this kernel (it was restarted?): run the form's cell again`);
  session.score(id, score);
  return `saved ${score} for ${id}: ${session.summary()}`;
}

/** Whether this kernel holds form `key` (false after a restart: the page still shows the old form). */
export function knowsForm(key: string): boolean {
  return sessions.has(key);
}

/** What a button gets back from a kernel that does not hold its form: the page then says to run the cell again. */
export const STALE_FORM_REPLY = 'GALMORPH_STALE_FORM';

(globalThis as Record<string, unknown>)[FORM_REGISTRY_GLOBAL] = Object.assign((key: string, id: string, score: number) => scoreFromForm(key, id, score), { knows: knowsForm });

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
      const src = await thumbnailDataUri(catalog.imagePath(row), size);
      const buttons = Array.from({ length: MAX_SCORE - MIN_SCORE + 1 }, (_, i) => MIN_SCORE + i)
        .map((s) => `<button type="button" class="galmorph-score" data-galaxy-id="${esc(id)}" data-score="${s}" style="width:24px;padding:1px 0">${s}</button>`)
        .join('');
      return (
        `<figure class="galmorph-tile" data-galaxy-id="${esc(id)}" style="margin:0;text-align:center;font:11px sans-serif;width:${size}px">` +
        `<img src="${src}" width="${size}" height="${size}" style="display:block;border-radius:3px" alt="${esc(id)}"/>` +
        `<figcaption style="margin:2px 0;overflow-wrap:anywhere;font-weight:600">${esc(id)}</figcaption>` +
        `<div style="display:flex;gap:1px;justify-content:center">${buttons}</div>` +
        `<div class="galmorph-status" style="color:#555;min-height:14px;overflow-wrap:anywhere"></div></figure>`
      );
    }),
  );
  const example = ids[0] ?? 'galaxy id';
  const intro =
    ids.length === 0
      ? '<div>Every galaxy has been scored.</div>'
      : `<div style="font:600 13px sans-serif;margin:4px 0">Score these ${ids.length} galaxies: ${MIN_SCORE} = ordinary … ${MAX_SCORE} = exactly what I am looking for ` +
        `(${session.phase === 'random' ? 'random galaxies: the first ones are chosen at random' : 'chosen by expected improvement'})</div>` +
        `<div style="font:12px sans-serif;color:#444;margin-bottom:6px">A button runs <code>${esc(v)}.score(id, s)</code> in the kernel: the score is appended to ` +
        `<code>${esc(session.labelsFile)}</code> at once (${session.labelledCount} scored so far). Buttons need the classic Jupyter Notebook with a live kernel; ` +
        `anywhere else, score from a cell: <code>${esc(v)}.score(${esc(JSON.stringify(example))}, 3)</code> or ` +
        `<code>${esc(v)}.scoreMany({ ${esc(JSON.stringify(example))}: 3, … })</code>. Run this cell again for the next galaxies.</div>`;
  const rootId = `galmorph-anomaly-${key}`;
  const script =
    `<script>(function(){var root=document.getElementById(${js(rootId)});if(!root)return;` +
    `var buttons=root.querySelectorAll('button.galmorph-score');` +
    `for(var i=0;i<buttons.length;i++){buttons[i].addEventListener('click',function(ev){` +
    `var b=ev.currentTarget,id=b.getAttribute('data-galaxy-id'),s=Number(b.getAttribute('data-score'));` +
    `var tile=b.closest('figure'),status=tile.querySelector('.galmorph-status');` +
    `var k=window.IPython&&window.IPython.notebook&&window.IPython.notebook.kernel;` +
    `if(!k){status.textContent='no live kernel here: run '+${js(v)}+'.score('+JSON.stringify(id)+', '+s+') in a cell';return;}` +
    `status.style.color='#555';status.textContent='saving '+s+'…';` +
    // After a kernel restart the page still shows this form but the kernel no longer holds its
    // session (or galmorph at all): the code asks first, and scores nothing then.
    `var key=JSON.stringify(${js(key)});` +
    `var code='(() => { const f = (globalThis as any).${FORM_REGISTRY_GLOBAL}; return f && f.knows && f.knows('+key+') ? f('+key+', '+JSON.stringify(id)+', '+s+') : ${js(STALE_FORM_REPLY)}; })()';` +
    `var reply=function(text,failed){text=String(text).trim();` +
    `if(text===${js(STALE_FORM_REPLY)}){status.textContent='the kernel restarted: run this cell again';status.style.color='#b00';return;}` +
    `status.textContent=text;status.style.color=failed?'#b00':'#555';` +
    `if(!failed){var mine=tile.querySelectorAll('button.galmorph-score');for(var j=0;j<mine.length;j++)mine[j].style.fontWeight=mine[j]===b?'700':'400';}};` +
    `k.execute(code,{iopub:{output:function(msg){var t=msg.header.msg_type;` +
    // tslab prints a cell's final string value as a stream; other kernels send an execute_result
    `if(t==='stream'){reply(msg.content.text,msg.content.name==='stderr');}` +
    `else if(t==='execute_result'){reply(String(msg.content.data['text/plain']||'').replace(/^['"]|['"]$/g,''),false);}` +
    // galmorph shows a failing cell as a display (kernel/errors.ts); other kernels send an error
    `else if(t==='display_data'&&msg.content.metadata&&msg.content.metadata.galmorph==='error'){reply(String(msg.content.data['text/plain']||'').split('\\n')[0],true);}` +
    `else if(t==='error'){reply(msg.content.ename+': '+msg.content.evalue,true);}}}},{silent:false,store_history:false});` +
    `});}})();</script>`;
  const html =
    `<div class="galmorph-anomaly-form" id="${esc(rootId)}">${intro}` +
    `<div style="display:grid;grid-template-columns:repeat(${columns},${size}px);gap:10px">${tiles.join('')}</div>${script}</div>`;
  return { key, ids, html };
}
