/**
 * What a galmorph notebook imports to show things (through the tslab kernel):
 *   showGalaxies — a grid of galaxy images from a catalogue, with captions;
 *   showPlot     — an interactive plotly figure, working offline (bundle embedded once per notebook);
 *   showTable    — an HTML table;  showDataFrame — a danfojs DataFrame as a sortable table;
 *   save / saveTable — export a figure (PNG at scale 2, SVG and PDF via headless Chromium) or a table (CSV + MD) to out/
 *                  (out/interactive/ outside a reproduce run); showSettings — the parameters that ran;
 *   anomalyForm  — the anomaly finder's next galaxies with 0-5 buttons that score them (anomaly-form.ts).
 * Importing it inside the tslab kernel also installs live progress bars, Kernel > Interrupt for
 * long galmorph calls and readable errors (interactive.ts).
 * Each `show*` has a pure `*Html` twin that returns the HTML, so the output can be tested.
 */
import * as path from 'node:path';
import { Catalog, CatalogRow } from '../src/data/catalog';
import { thumbnailDataUri } from '../src/data/images';
import { Figure, plotlyBundle } from '../src/plots/figure';
import { exportFigure, ExportOptions } from '../src/plots/export';
import { TableRow, tableColumns, formatCell, writeTable } from '../src/report/tables';
import { RUN_ID_ENV, RunOutput, recordOutput } from '../src/report/report';
import { outDir } from '../src/paths';
import { BackendChoice, describeBackend } from '../src/backend/select';
import { anomalyFormHtml, AnomalyFormOptions, AnomalyFormSession } from './anomaly-form';
import { installKernelHooks } from './interactive';
import type { DataFrame } from '../src/data/dataframe';

export { anomalyFormHtml, scoreFromForm } from './anomaly-form';
export type { AnomalyForm, AnomalyFormOptions, AnomalyFormSession } from './anomaly-form';
export { progressHtml, ProgressBoard, barText, formatDuration } from './progress';
export type { BarState, UpdatableDisplay, ProgressBoardOptions } from './progress';
export { errorHtml, errorText, errorView } from './errors';
export { interruptGalmorph, kernelProgress, inTslab } from './interactive';

// Inside the tslab kernel: live progress bars, Kernel > Interrupt for galmorph calls, readable
// errors (kernel/interactive.ts). Does nothing elsewhere.
installKernelHooks();

/** Where rich outputs go: the tslab display by default; tests install their own. */
export interface DisplaySink {
  html(s: string): void;
  text(s: string): void;
}

let sink: DisplaySink | undefined;

/** Replaces the display sink (tests, or a non-tslab front end). Returns the previous one. */
export function setDisplay(next: DisplaySink | undefined): DisplaySink | undefined {
  const prev = sink;
  sink = next;
  return prev;
}

function display(): DisplaySink {
  if (sink) return sink;
  // Loaded lazily: tslab pulls in its own TypeScript, which only a notebook needs.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const tslab = require('tslab') as typeof import('tslab');
  return tslab.display;
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

// ---------------------------------------------------------------- galaxy grids

export interface GalaxyTile {
  /** Image source: a `data:` URI keeps the notebook self-contained. */
  src: string;
  /** Bold first line under the image (e.g. the id). */
  title?: string;
  /** Smaller text under the title. */
  caption?: string;
}

export interface GridOptions {
  /** Tiles per row. Default 6. */
  columns?: number;
  /** Displayed tile size in pixels. Default 128. */
  size?: number;
  /** Heading above the grid. */
  heading?: string;
}

/** HTML for a grid of image tiles. */
export function galaxyGridHtml(tiles: GalaxyTile[], options: GridOptions = {}): string {
  const columns = options.columns ?? 6;
  const size = options.size ?? 128;
  const cells = tiles
    .map((t) => {
      const title = t.title ? `<div style="font-weight:600">${escapeHtml(t.title)}</div>` : '';
      const caption = t.caption ? `<div style="color:#555">${escapeHtml(t.caption)}</div>` : '';
      return (
        `<figure class="galmorph-tile" style="margin:0;text-align:center;font:11px sans-serif;width:${size}px">` +
        `<img src="${t.src}" width="${size}" height="${size}" style="display:block;border-radius:3px" alt="${escapeHtml(t.title ?? '')}"/>` +
        `<figcaption style="margin-top:2px;overflow-wrap:anywhere">${title}${caption}</figcaption></figure>`
      );
    })
    .join('');
  const heading = options.heading ? `<div style="font:600 13px sans-serif;margin:4px 0">${escapeHtml(options.heading)}</div>` : '';
  return (
    `<div class="galmorph-grid">${heading}<div style="display:grid;grid-template-columns:repeat(${columns},${size}px);gap:8px">` +
    `${cells}</div></div>`
  );
}

export interface CatalogGridOptions extends GridOptions {
  /** Which galaxies (ids in the catalogue's id column). Default: the first 12 rows. */
  ids?: string[];
  /** Caption per galaxy: a list aligned with the galaxies shown, or a function of the row. */
  captions?: string[] | ((row: CatalogRow) => string);
  /** Thumbnail resolution in pixels. Default: the display size. */
  thumbnail?: number;
}

/** HTML for a grid of a catalogue's galaxies (images embedded as JPEG thumbnails). */
export async function galaxyGrid(catalog: Catalog, options: CatalogGridOptions = {}): Promise<string> {
  const rows = options.ids ? options.ids.map((id) => catalog.byId(id)) : catalog.rows.slice(0, 12);
  if (Array.isArray(options.captions) && options.captions.length !== rows.length) {
    throw new Error(`galmorph: ${options.captions.length} captions for ${rows.length} galaxies`);
  }
  const thumb = options.thumbnail ?? options.size ?? 128;
  const tiles = await Promise.all(
    rows.map(async (row, i) => ({
      src: await thumbnailDataUri(catalog.imagePath(row), thumb),
      title: row[catalog.idCol],
      caption: typeof options.captions === 'function' ? options.captions(row) : options.captions?.[i],
    })),
  );
  return galaxyGridHtml(tiles, options);
}

/** Shows a grid of a catalogue's galaxies in the notebook. */
export async function showGalaxies(catalog: Catalog, options: CatalogGridOptions = {}): Promise<void> {
  display().html(await galaxyGrid(catalog, options));
}

// ---------------------------------------------------------------- plots

let bundleEmitted = false;
let plotCounter = 0;

/** Forgets that the plotly bundle was emitted (a new notebook, or a test). */
export function resetPlotBundle(): void {
  bundleEmitted = false;
}

export interface PlotHtmlOptions {
  /** Embed the plotly bundle in this output. Default: only in the first plot of the notebook. */
  includeBundle?: boolean;
  /** Element id for the plot. */
  id?: string;
}

/**
 * HTML for an interactive plotly figure. The first plot of a notebook carries the plotly bundle
 * (from node_modules) so the notebook and its HTML export render with no network at all.
 */
export function plotHtml(figure: Figure, options: PlotHtmlOptions = {}): string {
  const includeBundle = options.includeBundle ?? !bundleEmitted;
  const id = options.id ?? `galmorph-plot-${process.pid}-${++plotCounter}`;
  let html = '';
  if (includeBundle) {
    // The classic Notebook loads require.js; plotly's UMD wrapper would then register itself as an
    // anonymous AMD module and never set window.Plotly. Hide `define` while the bundle runs.
    html +=
      '<script>window.__galmorphDefine = window.define; window.define = undefined;</script>' +
      `<script>${plotlyBundle().replace(/<\/script/gi, '<\\/script')}</script>` +
      '<script>window.define = window.__galmorphDefine;</script>';
    bundleEmitted = true;
  }
  const spec = JSON.stringify({ data: figure.data, layout: figure.layout ?? {}, config: { responsive: true, ...(figure.config ?? {}) } })
    .replace(/</g, '\\u003c');
  html +=
    `<div id="${id}" class="galmorph-plot" style="width:100%;min-height:${Number((figure.layout as { height?: number } | undefined)?.height ?? 450)}px"></div>` +
    `<script>(function(){var s=${spec};var el=document.getElementById(${JSON.stringify(id)});` +
    `if(!window.Plotly){el.textContent='plotly is not loaded: re-run the first plotting cell of this notebook.';return;}` +
    `window.Plotly.newPlot(el,s.data,s.layout,s.config);})();</script>`;
  return html;
}

/** Shows an interactive plotly figure in the notebook. */
export function showPlot(figure: Figure): void {
  display().html(plotHtml(figure));
}

// ---------------------------------------------------------------- tables

export interface TableHtmlOptions {
  /** Show at most this many rows (a note says how many were left out). Default 50. */
  maxRows?: number;
  caption?: string;
}

/** HTML for a table of records (flat objects: result rows, summaries, any interface of cells). */
export function tableHtml(records: readonly object[], options: TableHtmlOptions = {}): string {
  const rows = records as TableRow[];
  const maxRows = options.maxRows ?? 50;
  const columns = tableColumns(rows);
  const head = columns.map((c) => `<th style="text-align:right;padding:2px 8px">${escapeHtml(c)}</th>`).join('');
  const body = rows
    .slice(0, maxRows)
    .map((r) => `<tr>${columns.map((c) => `<td style="text-align:right;padding:2px 8px">${escapeHtml(formatCell(r[c]))}</td>`).join('')}</tr>`)
    .join('');
  const more = rows.length > maxRows ? `<div style="color:#666;font:11px sans-serif">… ${rows.length - maxRows} more rows</div>` : '';
  const caption = options.caption ? `<caption style="font-weight:600;text-align:left">${escapeHtml(options.caption)}</caption>` : '';
  return `<table class="galmorph-table" style="border-collapse:collapse;font:12px sans-serif">${caption}<thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>${more}`;
}

export function showTable(rows: readonly object[], options: TableHtmlOptions = {}): void {
  display().html(tableHtml(rows, options));
}

// ---------------------------------------------------------------- DataFrames

export interface DataFrameHtmlOptions {
  /** Show at most this many rows (a note says how many were left out). Default 50. */
  maxRows?: number;
  caption?: string;
  /** Decimals of every non-integer number column (the same within a column). Default 4. */
  decimals?: number;
}

let frameCounter = 0;

/**
 * HTML for a danfojs DataFrame: a table sortable by clicking a header (numbers by value, strings
 * as text; again for descending), string columns such as ids exactly as stored, number columns
 * right-aligned with the same decimals in every row (integers as integers).
 */
export function dataFrameHtml(df: DataFrame, options: DataFrameHtmlOptions = {}): string {
  const maxRows = options.maxRows ?? 50;
  const decimals = options.decimals ?? 4;
  const columns = df.columns.map(String);
  const values = df.values as unknown[][];
  const numeric = columns.map((_, j) => df.dtypes[j] !== 'string' && values.every((r) => typeof r[j] === 'number'));
  const integer = columns.map((_, j) => numeric[j] && values.every((r) => Number.isInteger(r[j])));
  const id = `galmorph-df-${process.pid}-${++frameCounter}`;
  const cell = (v: unknown, j: number) => {
    if (numeric[j]) {
      const n = v as number;
      const text = integer[j] ? String(n) : n.toFixed(decimals);
      return `<td data-sort="${n}" style="text-align:right;padding:2px 8px;font-variant-numeric:tabular-nums">${text}</td>`;
    }
    const t = v === undefined || v === null ? '' : String(v);
    return `<td data-sort="${escapeHtml(t)}" style="text-align:left;padding:2px 8px">${escapeHtml(t)}</td>`;
  };
  const head = columns
    .map((c, j) => `<th data-numeric="${numeric[j] ? 1 : 0}" title="click to sort" style="cursor:pointer;text-align:${numeric[j] ? 'right' : 'left'};padding:2px 8px;border-bottom:1px solid #999">${escapeHtml(c)} <span class="galmorph-sort"></span></th>`)
    .join('');
  const body = values.slice(0, maxRows).map((r) => `<tr>${r.map(cell).join('')}</tr>`).join('');
  const more = values.length > maxRows ? `<div style="color:#666;font:11px sans-serif">… ${values.length - maxRows} more rows (sorting sorts the rows shown)</div>` : '';
  const caption = options.caption ? `<caption style="font-weight:600;text-align:left">${escapeHtml(options.caption)}</caption>` : '';
  const shape = `<div style="color:#666;font:11px sans-serif">${values.length} rows × ${columns.length} columns</div>`;
  const script =
    `<script>(function(){var t=document.getElementById(${JSON.stringify(id)});if(!t)return;var hs=t.querySelectorAll('th');` +
    `for(var i=0;i<hs.length;i++)(function(j,h){h.addEventListener('click',function(){` +
    `var asc=h.getAttribute('data-dir')!=='asc';for(var k=0;k<hs.length;k++){hs[k].removeAttribute('data-dir');hs[k].querySelector('.galmorph-sort').textContent='';}` +
    `h.setAttribute('data-dir',asc?'asc':'desc');h.querySelector('.galmorph-sort').textContent=asc?'▲':'▼';` +
    `var num=h.getAttribute('data-numeric')==='1',b=t.tBodies[0],rows=Array.prototype.slice.call(b.rows);` +
    `rows.sort(function(x,y){var a=x.cells[j].getAttribute('data-sort'),c=y.cells[j].getAttribute('data-sort');` +
    `var d=num?Number(a)-Number(c):(a<c?-1:a>c?1:0);return asc?d:-d;});rows.forEach(function(r){b.appendChild(r);});});})(i,hs[i]);})();</script>`;
  return `<table id="${id}" class="galmorph-dataframe" style="border-collapse:collapse;font:12px sans-serif">${caption}<thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>${more}${shape}${script}`;
}

/** Shows a DataFrame (toDataFrame of a catalogue or a result table) as a sortable table. */
export function showDataFrame(df: DataFrame, options: DataFrameHtmlOptions = {}): void {
  display().html(dataFrameHtml(df, options));
}

// ---------------------------------------------------------------- export

/**
 * Where save, saveTable and showSettings write. Inside a run of `npm run reproduce` (or runNotebook,
 * which names its run in GALMORPH_RUN_ID) that is out/ itself; in an interactive session it is
 * out/interactive/, so editing a notebook in Jupyter never overwrites the tables and figures that
 * out/REPORT.md links and describes.
 */
export function resultsDir(): string {
  return process.env[RUN_ID_ENV] ? outDir() : path.join(outDir(), 'interactive');
}

function record(kind: RunOutput['kind'], name: string, files: string[]): void {
  const runId = process.env[RUN_ID_ENV];
  if (runId) recordOutput(outDir(), runId, { kind, name, files });
}

/**
 * Saves a figure as `<results>/figures/<name>.png` (scale 2 unless told), `.svg` and `.pdf`
 * (headless Chromium, one browser for the whole kernel) and shows it
 * inline (interactive); `<results>` is resultsDir(). (Returns nothing, so a notebook cell ending in
 * `await save(...)` prints no value; use exportFigure for the paths.)
 */
export async function save(figure: Figure, name: string, options: ExportOptions & { show?: boolean } = {}): Promise<void> {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`galmorph: figure name '${name}' may use only letters, digits, '.', '_' and '-'`);
  const files = await exportFigure(figure, path.join(resultsDir(), 'figures', name), options);
  record('figure', name, files);
  if (options.show ?? true) showPlot(figure);
  display().text(`saved ${files.map((f) => path.relative(process.cwd(), f)).join(', ')}`);
}

/** Saves a table as `<results>/tables/<name>.csv` and `.md` (resultsDir()) and shows it. */
export function saveTable(rows: readonly object[], name: string, options: TableHtmlOptions & { show?: boolean } = {}): void {
  const files = writeTable(rows as TableRow[], path.join(resultsDir(), 'tables'), name);
  record('table', name, files);
  if (options.show ?? true) showTable(rows, { caption: options.caption ?? name, maxRows: options.maxRows });
  display().text(`saved ${files.map((f) => path.relative(process.cwd(), f)).join(', ')}`);
}

/**
 * A heading built from what a cell is about to run (e.g. how many starts and repeats), for the
 * places where a markdown cell could only state the defaults.
 */
export function showHeading(text: string, level: 2 | 3 | 4 = 3): void {
  display().html(`<h${level}>${escapeHtml(text)}</h${level}>`);
}

/** A setting as a table cell: lists and objects as compact JSON, so what ran can be read back. */
export function settingText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  return JSON.stringify(value);
}

/**
 * Shows the parameters a notebook is about to run with and writes them as
 * `<results>/tables/settings-<name>.csv` and `.md`; in a reproduce run, out/REPORT.md quotes them
 * under "Settings that ran". Call it after the parameter cell, with the values the runs will use.
 */
export function showSettings(name: string, settings: Record<string, unknown>): void {
  const rows = Object.entries(settings).map(([setting, value]) => ({ setting, value: settingText(value) }));
  const table = `settings-${name}`;
  const files = writeTable(rows, path.join(resultsDir(), 'tables'), table);
  record('settings', name, files);
  showTable(rows, { caption: `settings that run (${name})` });
}

/** Shows which compute backend is in use (every notebook's first output). */
export function showBackend(choice: BackendChoice): void {
  display().text(`galmorph ${describeBackend(choice)}`);
}

// ---------------------------------------------------------------- anomaly finder

/**
 * Shows the anomaly session's next galaxies with buttons 0-5 (classic Notebook: a click runs
 * `session.score(id, s)` in the kernel, written to the labels file at once). Elsewhere, score from
 * a cell with `session.score(id, s)` / `session.scoreMany({ id: s })`; run the cell again for more.
 */
export async function anomalyForm(session: AnomalyFormSession, catalog: Catalog, options: AnomalyFormOptions = {}): Promise<void> {
  display().html((await anomalyFormHtml(session, catalog, options)).html);
}
