/**
 * Figure export to PNG and SVG through headless Chromium (playwright-core driving the system
 * Chromium: no browser download, no network). plotly renders in the page from the bundle in
 * node_modules; every network request from the page is refused and counted.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser } from 'playwright-core';
import { chromium } from 'playwright-core';
import { Figure, plotlyBundle } from './figure';

export type ImageFormat = 'png' | 'svg';

export interface ExportOptions {
  /** Pixel width of the figure (before `scale`). Default 800. */
  width?: number;
  /** Pixel height of the figure (before `scale`). Default 500. */
  height?: number;
  /** PNG resolution multiplier (2 gives a 1600x1000 PNG for the defaults). Default 1. */
  scale?: number;
  /** Formats to write. Default both. */
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
    const width = options.width ?? 800;
    const height = options.height ?? 500;
    const scale = format === 'png' ? options.scale ?? 1 : 1;
    const page = await this.browser.newPage();
    try {
      await page.route('**/*', (route) => {
        this.blockedRequests.push(route.request().url());
        return route.abort();
      });
      await page.setContent('<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><div id="fig"></div></body></html>');
      await page.addScriptTag({ content: plotlyBundle() });
      const dataUrl = await page.evaluate(
        async ({ fig, width, height, scale, format }) => {
          const Plotly = (window as unknown as { Plotly: any }).Plotly;
          const gd = document.getElementById('fig');
          await Plotly.newPlot(gd, fig.data, { ...(fig.layout ?? {}), width, height }, { ...(fig.config ?? {}), staticPlot: true });
          return (await Plotly.toImage(gd, { format, width, height, scale })) as string;
        },
        { fig: figure, width, height, scale, format },
      );
      return decodeDataUrl(dataUrl);
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
// and scripts still exit on their own when they are done.
let shared: Promise<FigureRenderer> | undefined;
let idleTimer: NodeJS.Timeout | undefined;
let inFlight = 0;
const IDLE_CLOSE_MS = 1500;

async function withSharedRenderer<T>(fn: (r: FigureRenderer) => Promise<T>): Promise<T> {
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = undefined;
  if (!shared) {
    shared = FigureRenderer.launch();
    shared.catch(() => (shared = undefined));
  }
  inFlight++;
  try {
    return await fn(await shared);
  } finally {
    inFlight--;
    if (inFlight === 0) {
      idleTimer = setTimeout(() => void closeSharedRenderer(), IDLE_CLOSE_MS);
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
 * Writes `<basePath>.png` and/or `<basePath>.svg` for a figure and returns the paths written.
 * Folders are created as needed.
 */
export async function exportFigure(figure: Figure, basePath: string, options: ExportOptions = {}): Promise<string[]> {
  const formats = options.formats ?? ['png', 'svg'];
  fs.mkdirSync(path.dirname(path.resolve(basePath)), { recursive: true });
  return withSharedRenderer(async (renderer) => {
    const written: string[] = [];
    for (const format of formats) {
      const bytes = await renderer.render(figure, format, options);
      const file = `${path.resolve(basePath)}.${format}`;
      // Write to a temporary name first so an interrupted export never leaves a truncated figure.
      fs.writeFileSync(`${file}.partial`, bytes);
      fs.renameSync(`${file}.partial`, file);
      written.push(file);
    }
    return written;
  });
}
