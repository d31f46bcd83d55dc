/**
 * Figures are plain plotly specs ({data, layout}): serialisable, inspectable in tests, rendered
 * inline by the notebook kernel and exported to PNG/SVG/PDF by headless Chromium. The builders here are
 * small and composable; anything plotly accepts can be added to `data` and `layout` by hand.
 */
import * as fs from 'node:fs';

/** One plotly trace (`scatter`, `histogram`, ...); any plotly trace attribute is allowed. */
export type Trace = { type?: string } & Record<string, unknown>;

/** A plotly figure. */
export interface Figure {
  data: Trace[];
  layout?: Record<string, unknown>;
  config?: Record<string, unknown>;
}

export interface AxisLabels {
  title?: string;
  x?: string;
  y?: string;
}

/** The layout every galmorph figure starts from: title, axis titles, font, margins, white background. */
export function baseLayout(labels: AxisLabels): Record<string, unknown> {
  return {
    title: labels.title ? { text: labels.title } : undefined,
    xaxis: { title: { text: labels.x ?? '' } },
    yaxis: { title: { text: labels.y ?? '' } },
    template: undefined,
    font: { family: 'DejaVu Sans, Arial, sans-serif', size: 13 },
    margin: { l: 60, r: 20, t: labels.title ? 50 : 20, b: 55 },
    plot_bgcolor: 'white',
    paper_bgcolor: 'white',
  };
}

export interface ScatterOptions extends AxisLabels {
  /** Hover text per point (e.g. galaxy ids): the first line of its hover label, above x and y rounded. */
  text?: string[];
  /** Decimals of x, y and colour values in hover labels. Default 3. */
  digits?: number;
  /** Colour value per point, shown with a colour bar. */
  color?: ArrayLike<number>;
  colorLabel?: string;
  name?: string;
}

/** A scatter plot of y against x. */
export function scatter(x: ArrayLike<number>, y: ArrayLike<number>, options: ScatterOptions = {}): Figure {
  const marker: Record<string, unknown> = { size: 6, opacity: 0.8 };
  if (options.color) {
    marker.color = Array.from(options.color);
    marker.colorscale = 'Viridis';
    marker.showscale = true;
    marker.colorbar = { title: { text: options.colorLabel ?? '' } };
  }
  // Rounded values under the galaxy's id, not plotly's default "(0.8123456, 0.1234567) 1237…".
  const d = options.digits ?? 3;
  const label = (axis: string | undefined, fallback: string) => escapeHover(axis || fallback);
  const lines = [
    ...(options.text ? ['<b>%{text}</b>'] : []),
    `${label(options.x, 'x')}: %{x:.${d}f}`,
    `${label(options.y, 'y')}: %{y:.${d}f}`,
    ...(options.color ? [`${label(options.colorLabel, 'colour')}: %{marker.color:.${Number.isInteger(Array.from(options.color)[0]) ? 0 : d}f}`] : []),
  ];
  return {
    data: [{ type: 'scatter', mode: 'markers', x: Array.from(x), y: Array.from(y), text: options.text, name: options.name, marker, hovertemplate: `${lines.join('<br>')}<extra>${options.name ? escapeHover(options.name) : ''}</extra>` }],
    layout: baseLayout(options),
  };
}

/** Text for a hover template: HTML-escaped, and `%{` kept literal. */
export function escapeHover(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/%\{/g, '%&#123;');
}

export interface HistogramOptions extends AxisLabels {
  nbins?: number;
  name?: string;
}

/** A histogram of values. */
export function histogram(values: ArrayLike<number>, options: HistogramOptions = {}): Figure {
  return {
    data: [{ type: 'histogram', x: Array.from(values), nbinsx: options.nbins ?? 30, name: options.name }],
    layout: { ...baseLayout({ ...options, y: options.y ?? 'galaxies' }), bargap: 0.05 },
  };
}

/** Overlays the traces of several figures on the first one's layout. */
export function overlay(...figures: Figure[]): Figure {
  if (figures.length === 0) throw new Error('galmorph: overlay() needs at least one figure');
  return { data: figures.flatMap((f) => f.data), layout: { ...figures[0]!.layout, showlegend: true }, config: figures[0]!.config };
}

let bundleCache: string | undefined;

/** The plotly.js bundle (minified, from node_modules): embedded in pages so nothing loads from a CDN. */
export function plotlyBundle(): string {
  if (bundleCache === undefined) {
    const file = require.resolve('plotly.js-dist-min');
    bundleCache = fs.readFileSync(file, 'utf8');
  }
  return bundleCache;
}

/** plotly.js version that galmorph embeds. */
export function plotlyVersion(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('plotly.js-dist-min/package.json') as { version: string }).version;
}
