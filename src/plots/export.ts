/**
 * Figure export to PNG, SVG and PDF through headless Chromium (playwright-core driving the system
 * Chromium: no browser download, no network). plotly renders in the page from the bundle in
 * node_modules; every network request from the page is refused and counted. PNG and SVG come from
 * plotly's toImage; the PDF is Chromium printing a page that holds only that SVG, so it stays
 * vector (text as text) at the figure's size.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser } from 'playwright-core';
import { chromium } from 'playwright-core';
import { Figure, plotlyBundle } from './figure';

export type ImageFormat = 'png' | 'svg' | 'pdf';

/** Every format `exportFigure` writes unless told otherwise. */
export const DEFAULT_FORMATS: readonly ImageFormat[] = ['png', 'svg', 'pdf'];

/** PNG resolution multiplier unless told otherwise: 2, print quality for a figure at column width. */
export const DEFAULT_SCALE = 2;

export interface ExportOptions {
  /** Pixel width of the figure (before `scale`). Default 800. */
  width?: number;
  /** Pixel height of the figure (before `scale`). Default 500. */
  height?: number;
  /** PNG resolution multiplier (2 gives a 1600x1000 PNG for the defaults). Default 2 (DEFAULT_SCALE). */
  scale?: number;
  /** Formats to write. Default PNG, SVG and PDF. */
  formats?: ImageFormat[];
}

const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** The Chromium executable galmorph uses (`GALMORPH_CHROMIUM` overrides), or undefined if none. */
export function findChromium(): string | undefined {
  const forced = process.env.GALMORPH_CHROMIUM;
  if (forced) return fs.existsSync(forced) ? forced : undefined;
  return CHROMIUM_CANDIDATES.find((p) => fs.existsSync(p));
}

// Flags for a closed network: without the background-networking ones Chromium keeps trying to
// reach Google services at start and floods the log with refused connections.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
  '--disable-dev-shm-usage',
];

/** A headless Chromium with plotly loaded, reused for several figures. Close it when done. */
export class FigureRenderer {
  /** Network requests the rendering pages attempted (all refused). Should stay 0. */
  blockedRequests: string[] = [];

  private constructor(private readonly browser: Browser) {}

  static async launch(): Promise<FigureRenderer> {
    const executablePath = findChromium();
    if (!executablePath) {
      throw new Error(
        'galmorph: figure export needs Chromium and none was found at ' +
          `${CHROMIUM_CANDIDATES.join(', ')} (or GALMORPH_CHROMIUM). Install it with: sudo apt-get install -y chromium`,
      );
    }
    const browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
    return new FigureRenderer(browser);
  }

  /** Renders a figure and returns the file bytes of the requested format. */
  async render(figure: Figure, format: ImageFormat, options: ExportOptions = {}): Promise<Buffer> {
    return (await this.renderAll(figure, [format], options)).get(format)!;
  }

  /** Renders a figure once, in one page, to every requested format. */
  async renderAll(figure: Figure, formats: readonly ImageFormat[], options: ExportOptions = {}): Promise<Map<ImageFormat, Buffer>> {
    const width = options.width ?? 800;
    const height = options.height ?? 500;
    const scale = options.scale ?? DEFAULT_SCALE;
    if (!(scale > 0)) throw new Error(`galmorph: figure scale must be a positive number, got ${scale}`);
    const page = await this.browser.newPage();
    const out = new Map<ImageFormat, Buffer>();
    try {
      await page.route('**/*', (route) => {
        this.blockedRequests.push(route.request().url());
        return route.abort();
      });
      await page.setContent('<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><div id="fig"></div></body></html>');
      await page.addScriptTag({ content: plotlyBundle() });
      await page.evaluate(
        async ({ fig, width, height }) => {
          const Plotly = (window as unknown as { Plotly: any }).Plotly;
          await Plotly.newPlot(document.getElementById('fig'), fig.data, { ...(fig.layout ?? {}), width, height }, { ...(fig.config ?? {}), staticPlot: true });
        },
        { fig: figure, width, height },
      );
      const image = async (format: 'png' | 'svg') =>
        decodeDataUrl(
          await page.evaluate(
            ({ width, height, scale, format }) =>
              (window as unknown as { Plotly: any }).Plotly.toImage(document.getElementById('fig'), { format, width, height, scale: format === 'png' ? scale : 1 }) as Promise<string>,
            { width, height, scale, format },
          ),
        );
      for (const format of formats) {
        if (format === 'png' || format === 'svg') out.set(format, await image(format));
      }
      if (formats.includes('pdf')) {
        const svg = out.get('svg') ?? (await image('svg'));
        // A page of exactly the figure's size holding only its SVG: one vector page, no margins.
        await page.setContent(
          `<!DOCTYPE html><html><head><meta charset="utf-8"><style>@page{size:${width}px ${height}px;margin:0}html,body{margin:0;padding:0}svg{display:block}</style></head><body>${svg.toString('utf8')}</body></html>`,
        );
        out.set('pdf', await page.pdf({ width: `${width}px`, height: `${height}px`, printBackground: true, pageRanges: '1' }));
      }
      for (const format of formats) if (!out.has(format)) throw new Error(`galmorph: unknown figure format '${format}' (png, svg or pdf)`);
      return out;
    } finally {
      await page.close();
    }
  }

  async close(): Promise<void> {
    await this.browser.close();
  }
}

/** Decodes the `data:` URL that plotly's toImage returns (base64 PNG or URI-encoded SVG). */
export function decodeDataUrl(url: string): Buffer {
  const comma = url.indexOf(',');
  if (!url.startsWith('data:') || comma < 0) throw new Error(`galmorph: unexpected image data from plotly: ${url.slice(0, 40)}`);
  const header = url.slice(5, comma);
  const body = url.slice(comma + 1);
  return header.endsWith(';base64') ? Buffer.from(body, 'base64') : Buffer.from(decodeURIComponent(body), 'utf8');
}

// One shared renderer, closed after a short idle period: successive saves reuse the browser,
// and scripts still exit on their own when they are done. A notebook kernel keeps it for its whole
// life instead (keepRendererAlive), since its saves are cells apart, often longer than any timeout.
let shared: Promise<FigureRenderer> | undefined;
let idleTimer: NodeJS.Timeout | undefined;
let inFlight = 0;
let idleCloseMs: number | undefined = 1500;
let launchCount = 0;

/**
 * Keeps the shared Chromium open until closeSharedRenderer or the end of the process (`true`), or
 * closes it again after each idle moment (`false`, the default outside notebooks).
 */
export function keepRendererAlive(keep = true): void {
  idleCloseMs = keep ? undefined : 1500;
  if (keep && idleTimer) {
    clearTimeout(idleTimer);
    idleTimer = undefined;
  }
}

/** How many times this process has started the shared Chromium (for tests and diagnostics). */
export function rendererLaunches(): number {
  return launchCount;
}

async function withSharedRenderer<T>(fn: (r: FigureRenderer) => Promise<T>): Promise<T> {
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = undefined;
  if (!shared) {
    launchCount++;
    shared = FigureRenderer.launch();
    shared.catch(() => (shared = undefined));
  }
  inFlight++;
  try {
    return await fn(await shared);
  } finally {
    inFlight--;
    if (inFlight === 0 && idleCloseMs !== undefined) {
      idleTimer = setTimeout(() => void closeSharedRenderer(), idleCloseMs);
    }
  }
}

/** Closes the shared Chromium now (it also closes itself when idle). */
export async function closeSharedRenderer(): Promise<void> {
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = undefined;
  const r = shared;
  shared = undefined;
  if (r) await (await r).close().catch(() => undefined);
}

/**
 * Writes `<basePath>.png`, `.svg` and `.pdf` (or `options.formats`) for a figure and returns the
 * paths written. Folders are created as needed.
 */
export async function exportFigure(figure: Figure, basePath: string, options: ExportOptions = {}): Promise<string[]> {
  const formats = options.formats ?? DEFAULT_FORMATS;
  fs.mkdirSync(path.dirname(path.resolve(basePath)), { recursive: true });
  return withSharedRenderer(async (renderer) => {
    const images = await renderer.renderAll(figure, formats, options);
    const written: string[] = [];
    for (const format of formats) {
      const bytes = images.get(format)!;
      const file = `${path.resolve(basePath)}.${format}`;
      // Write to a temporary name first so an interrupted export never leaves a truncated figure.
      fs.writeFileSync(`${file}.partial`, bytes);
      fs.renameSync(`${file}.partial`, file);
      written.push(file);
    }
    return written;
  });
}
