/**
 * Marks over tidy rows, in the spirit of Observable Plot. A mark takes rows (a result table's, a
 * training log's, any array of flat records) and the channels to read from them (a column name, or
 * a function of the row) and returns the plotly traces it draws; `figure()` composes marks into one
 * Figure. Series (`z`) come in first-seen order and hover labels are rounded in the spec, so a
 * figure depends on its rows alone (the snapshot tests rely on it).
 *
 *   figure([
 *     errorBars(table, { x: 'n_rings', z: 'start', filter: (r) => r.metric === 'accuracy' }),
 *     ruleY([0.5], { name: 'random' }),
 *   ], { x: { label: 'rings', type: 'log' }, y: 'accuracy' })
 */
import type { Cell, Deferred } from '../report/tables';
import { baseLayout, escapeHover as escapeHtml, Figure, Trace } from './figure';

/** A column of the rows, or a function of one row. */
export type Channel<T> = (keyof T & string) | ((row: T) => Cell);

/** What a mark draws: plotly traces, composed by `figure()` (or added to any figure's `data`). */
export type Mark = Trace[];

/** How one series is drawn; unset attributes keep plotly's defaults (colours from its colourway). */
export interface SeriesStyle {
  color?: string;
  /** 'solid', 'dot', 'dash', 'dashdot', 'longdash', ... */
  dash?: string;
  /** Line width in pixels. */
  width?: number;
  /** Marker symbol ('circle', 'star', 'square', ...). */
  symbol?: string;
  /** Marker size in pixels. */
  size?: number;
  opacity?: number;
}

export interface MarkOptions<T> {
  x: Channel<T>;
  y: Channel<T>;
  /** Series: one trace per distinct value (its legend name), in first-seen order. */
  z?: Channel<T>;
  /** Legend name of the mark when there is no `z`. */
  name?: string;
  /** Only the rows that pass. */
  filter?: (row: T) => boolean;
  /** Half-height of an error bar at each point (e.g. a `std` column). */
  error?: Channel<T>;
  /** First line of each point's hover label (e.g. a galaxy id); default the series name. */
  title?: Channel<T>;
  /** More channels shown in the hover label, as `name: value`. */
  tip?: (keyof T & string)[];
  /** A series' style, or a function of its first row and its name. */
  style?: SeriesStyle | ((first: T, series: string) => SeriesStyle);
  /** Decimals of y, errors and numeric tips in hover labels. Default 3. */
  digits?: number;
}

export interface DotOptions<T> extends MarkOptions<T> {
  /** Text drawn beside each dot. */
  text?: Channel<T>;
  /** Where the text goes ('top center', 'middle left', ...). Default 'top center'. */
  textPosition?: string;
}

export interface LineOptions<T> extends MarkOptions<T> {
  /** Markers at the points as well. Default true. */
  markers?: boolean;
  /** Sort each series by x when x is numeric. Default true. */
  sort?: boolean;
}

interface Series<T> {
  name: string;
  rows: T[];
}

function read<T>(row: T, channel: Channel<T>): Cell {
  return typeof channel === 'function' ? channel(row) : (row[channel] as Cell);
}

/** A cell as plotly data: missing and non-finite numbers become gaps (null). */
function plotValue(v: Cell): string | number | boolean | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'number' && !Number.isFinite(v)) return null;
  return v;
}

/** A value for a hover label: numbers other than integers to `digits` decimals. */
function rounded(v: Cell, digits: number): string {
  if (typeof v === 'number') return Number.isFinite(v) && !Number.isInteger(v) ? v.toFixed(digits) : String(v);
  return v === undefined || v === null ? '' : String(v);
}

function label<T>(channel: Channel<T>, fallback: string): string {
  return typeof channel === 'string' ? channel : fallback;
}

function seriesOf<T>(rows: readonly T[], o: MarkOptions<T>): Series<T>[] {
  const kept = o.filter ? rows.filter(o.filter) : [...rows];
  if (!o.z) return kept.length > 0 ? [{ name: o.name ?? '', rows: kept }] : [];
  const groups = new Map<string, T[]>();
  for (const r of kept) {
    const key = rounded(read(r, o.z), 6);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(r);
  }
  return [...groups].map(([name, rs]) => ({ name, rows: rs }));
}

function styleOf<T>(o: MarkOptions<T>, s: Series<T>): SeriesStyle {
  return typeof o.style === 'function' ? o.style(s.rows[0]!, s.name) : o.style ?? {};
}

/** One trace per series, with x, y, error bars and a hover template; `draw` adds the trace type's own attributes. */
function seriesTraces<T>(rows: readonly T[], o: MarkOptions<T>, draw: (style: SeriesStyle, s: Series<T>) => Trace, sort = false): Mark {
  const digits = o.digits ?? 3;
  return seriesOf(rows, o).map((s) => {
    let rs = s.rows;
    if (sort && rs.every((r) => typeof read(r, o.x) === 'number')) rs = [...rs].sort((a, b) => (read(a, o.x) as number) - (read(b, o.x) as number));
    const xs = rs.map((r) => plotValue(read(r, o.x)));
    const trace: Trace = { ...draw(styleOf(o, s), { ...s, rows: rs }), name: s.name, x: xs, y: rs.map((r) => plotValue(read(r, o.y))) };
    if (!s.name) trace.showlegend = false;
    const tips = o.tip ?? [];
    const custom: Channel<T>[] = [...(o.title ? [o.title] : []), ...(o.error ? [o.error] : []), ...tips];
    if (custom.length > 0) trace.customdata = rs.map((r) => custom.map((c) => rounded(read(r, c), digits)));
    if (o.error) trace.error_y = { type: 'data', array: rs.map((r) => plotValue(read(r, o.error!))), visible: true, thickness: 1, width: 3 };
    const xFormat = xs.every((v) => typeof v === 'number' || v === null) ? `:.${digits}~f` : '';
    let k = 0;
    const heading = o.title ? `%{customdata[${k++}]}` : escapeHtml(s.name);
    const errorPart = o.error ? ` ± %{customdata[${k++}]}` : '';
    const lines = [
      ...(heading ? [`<b>${heading}</b>`] : []),
      `${escapeHtml(label(o.x, 'x'))}: %{x${xFormat}}`,
      `${escapeHtml(label(o.y, 'y'))}: %{y:.${digits}f}${errorPart}`,
      ...tips.map((t) => `${escapeHtml(t)}: %{customdata[${k++}]}`),
    ];
    trace.hovertemplate = `${lines.join('<br>')}<extra>${o.title && s.name ? escapeHtml(s.name) : ''}</extra>`;
    return trace;
  });
}

function lineStyle(style: SeriesStyle): Record<string, unknown> {
  return { color: style.color, dash: style.dash, width: style.width };
}

function markerStyle(style: SeriesStyle, size: number): Record<string, unknown> {
  return { color: style.color, symbol: style.symbol, size: style.size ?? size, opacity: style.opacity };
}

/** Lines through the points of each series (with markers unless `markers: false`), sorted by x. */
export function line<T>(rows: readonly T[], deferred: LineOptions<Deferred<T>>): Mark {
  const options = deferred as LineOptions<T>;
  const mode = options.markers ?? true ? 'lines+markers' : 'lines';
  return seriesTraces(rows, options, (style) => ({ type: 'scatter', mode, line: lineStyle(style), marker: markerStyle(style, 6) }), options.sort ?? true);
}

/** Dots, one trace per series, optionally labelled with `text`. */
export function dot<T>(rows: readonly T[], deferred: DotOptions<Deferred<T>>): Mark {
  const options = deferred as DotOptions<T>;
  return seriesTraces(rows, options, (style, s) => {
    const trace: Trace = { type: 'scatter', mode: options.text ? 'markers+text' : 'markers', marker: markerStyle({ opacity: 0.8, ...style }, 6) };
    if (options.text) {
      trace.text = s.rows.map((r) => rounded(read(r, options.text!), options.digits ?? 3));
      trace.textposition = options.textPosition ?? 'top center';
      trace.textfont = { size: 10 };
    }
    return trace;
  });
}

/** Vertical bars, one trace per series; `figure()` groups the series side by side. */
export function bar<T>(rows: readonly T[], options: MarkOptions<Deferred<T>>): Mark {
  return seriesTraces(rows, options as MarkOptions<T>, (style) => ({ type: 'bar', marker: { color: style.color, opacity: style.opacity } }));
}

export type ErrorBarOptions<T> = Omit<LineOptions<T>, 'y' | 'error'> & {
  /** Default `mean`. */
  y?: Channel<T>;
  /** Default `std`. */
  error?: Channel<T>;
  /** Join each series' points with a line. Default true. */
  lines?: boolean;
};

/**
 * Mean ± std: a point and error bar per row, joined per series (summary rows, e.g. from
 * `summariseBy` or a learning curve, read `mean` and `std` by default).
 */
export function errorBars<T>(rows: readonly T[], deferred: ErrorBarOptions<Deferred<T>>): Mark {
  const options = deferred as ErrorBarOptions<T>;
  const o = { ...options, y: options.y ?? ('mean' as Channel<T>), error: options.error ?? ('std' as Channel<T>) };
  return options.lines ?? true ? line(rows, o) : dot(rows, o);
}

export interface RuleOptions<T> {
  /** Series name of each rule (its legend entry). */
  z?: Channel<T>;
  /** Legend name when there is no `z`. */
  name?: string;
  filter?: (row: T) => boolean;
  /** Default: dotted. */
  style?: SeriesStyle | ((first: T, series: string) => SeriesStyle);
  digits?: number;
}

// Rules are drawn on a hidden axis overlaying the plot's, spanning it from edge to edge whatever the data's range.
const SPAN = [0, 1];

function rules<T>(rows: readonly T[], at: Channel<T>, axis: 'x' | 'y', options: RuleOptions<T>): Mark {
  const digits = options.digits ?? 3;
  const o: MarkOptions<T> = { x: at, y: at, z: options.z, name: options.name, filter: options.filter, style: options.style };
  return seriesOf(rows, o).flatMap((s) => {
    const style = { dash: 'dot', ...styleOf(o, s) };
    return s.rows.map((r) => {
      const v = plotValue(read(r, at));
      const trace: Trace = { type: 'scatter', mode: 'lines', name: s.name, line: lineStyle(style) };
      if (axis === 'y') Object.assign(trace, { x: SPAN, y: [v, v], xaxis: 'x2' });
      else Object.assign(trace, { x: [v, v], y: SPAN, yaxis: 'y2' });
      if (!s.name) trace.showlegend = false;
      trace.hovertemplate = `${s.name ? `<b>${escapeHtml(s.name)}</b><br>` : ''}${axis}: ${rounded(read(r, at), digits)}<extra></extra>`;
      return trace;
    });
  });
}

/** Horizontal reference lines across the plot: at the given values, or at each row's `y` (e.g. a baseline's mean). */
export function ruleY(values: readonly number[], options?: RuleOptions<{ y: number }>): Mark;
export function ruleY<T>(rows: readonly T[], options: RuleOptions<Deferred<T>> & { y: Channel<Deferred<T>> }): Mark;
export function ruleY<T>(rows: readonly (T | number)[], options: RuleOptions<T> & { y?: Channel<T> } = {}): Mark {
  return typeof rows[0] === 'number' ? rules((rows as number[]).map((y) => ({ y })), 'y', 'y', options as RuleOptions<{ y: number }>) : rules(rows as T[], options.y!, 'y', options);
}

/** Vertical reference lines across the plot: at the given values, or at each row's `x`. */
export function ruleX(values: readonly number[], options?: RuleOptions<{ x: number }>): Mark;
export function ruleX<T>(rows: readonly T[], options: RuleOptions<Deferred<T>> & { x: Channel<Deferred<T>> }): Mark;
export function ruleX<T>(rows: readonly (T | number)[], options: RuleOptions<T> & { x?: Channel<T> } = {}): Mark {
  return typeof rows[0] === 'number' ? rules((rows as number[]).map((x) => ({ x })), 'x', 'x', options as RuleOptions<{ x: number }>) : rules(rows as T[], options.x!, 'x', options);
}

export interface AxisOptions {
  label?: string;
  type?: 'linear' | 'log' | 'category';
  range?: [number, number];
  /** Tick positions, labelled with their values (e.g. the label counts of a learning curve). */
  ticks?: number[];
}

export interface FigureOptions {
  title?: string;
  /** Axis title, or the axis' options. */
  x?: string | AxisOptions;
  y?: string | AxisOptions;
  /** Legend shown; default when more than one trace has a name. */
  legend?: boolean;
  /** Any plotly layout attributes, applied last (`xaxis` and `yaxis` merged into the marks'). */
  layout?: Record<string, unknown>;
}

function axisOptions(axis: string | AxisOptions | undefined): AxisOptions {
  return typeof axis === 'string' ? { label: axis } : axis ?? {};
}

function axisLayout(base: unknown, o: AxisOptions, categorical: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  const type = o.type ?? (categorical ? 'category' : undefined);
  if (type) out.type = type;
  if (o.range) out.range = type === 'log' ? o.range.map(Math.log10) : o.range;
  if (o.ticks) Object.assign(out, { tickvals: o.ticks, ticktext: o.ticks.map(String) });
  return out;
}

const HIDDEN_SPAN = { range: SPAN, visible: false, fixedrange: true };

/** Composes marks into one figure: axes, legend, grouped bars, and the hidden axes rules span. */
export function figure(marks: Mark[], options: FigureOptions = {}): Figure {
  const data = marks.flat();
  const x = axisOptions(options.x);
  const y = axisOptions(options.y);
  const layout = baseLayout({ title: options.title, x: x.label, y: y.label });
  const drawn = data.filter((t) => t.xaxis === undefined && t.yaxis === undefined);
  const values = (axis: 'x' | 'y') => drawn.flatMap((t) => (Array.isArray(t[axis]) ? (t[axis] as unknown[]) : [])).filter((v) => v !== null);
  const categorical = (axis: 'x' | 'y') => values(axis).length > 0 && values(axis).every((v) => typeof v === 'string');
  const extra = options.layout ?? {};
  Object.assign(layout, {
    xaxis: { ...axisLayout(layout.xaxis, x, categorical('x')), ...(extra.xaxis as object | undefined) },
    yaxis: { ...axisLayout(layout.yaxis, y, categorical('y')), ...(extra.yaxis as object | undefined) },
  });
  if (data.some((t) => t.xaxis === 'x2')) layout.xaxis2 = { overlaying: 'x', ...HIDDEN_SPAN };
  if (data.some((t) => t.yaxis === 'y2')) layout.yaxis2 = { overlaying: 'y', ...HIDDEN_SPAN };
  if (data.some((t) => t.type === 'bar')) layout.barmode = 'group';
  layout.showlegend = options.legend ?? data.filter((t) => t.name).length > 1;
  const { xaxis: _x, yaxis: _y, ...rest } = extra;
  return { data, layout: { ...layout, ...rest } };
}
