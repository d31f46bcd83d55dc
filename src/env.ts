/**
 * `galmorph env`: what this machine offers galmorph, in one screen.
 */
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { BACKEND_NAMES, BackendChoice, initBackend, nativeDetail } from './backend/select';
import { probeWebgpuAdapter, WebgpuAdapterReport } from './backend/webgpu';
import { findChromium } from './plots/export';
import { plotlyVersion } from './plots/figure';
import { jupyterStatus, JupyterStatus } from './notebooks/jupyter';
import { DataRoot, dataRoots, outDir } from './paths';
import { VERSION } from './version';

export interface EnvReport {
  galmorph: string;
  node: string;
  tfjs: string;
  plotly: string;
  backend: BackendChoice | { error: string };
  /** The WebGPU adapter Dawn offers (also when another backend was chosen), or why there is none. */
  webgpu: { adapter?: WebgpuAdapterReport; problem?: string };
  jupyter: JupyterStatus;
  chromium: { path?: string; version?: string; problem?: string };
  data: DataRoot[];
  out: string;
}

function chromiumStatus(): EnvReport['chromium'] {
  const p = findChromium();
  if (!p) return { problem: 'not found: install it with sudo apt-get install -y chromium (or set GALMORPH_CHROMIUM)' };
  const r = spawnSync(p, ['--version'], { encoding: 'utf8' });
  return { path: p, version: r.status === 0 ? r.stdout.trim() : undefined };
}

export async function environmentReport(): Promise<EnvReport> {
  let backend: EnvReport['backend'];
  try {
    backend = await initBackend();
  } catch (err) {
    backend = { error: err instanceof Error ? err.message : String(err) };
  }
  let webgpu: EnvReport['webgpu'];
  if (!('error' in backend) && backend.adapter) {
    webgpu = { adapter: backend.adapter };
  } else {
    try {
      require.resolve('@tensorflow/tfjs-backend-webgpu/package.json');
      webgpu = { adapter: await probeWebgpuAdapter() };
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      webgpu = { problem: /Cannot find module/.test(msg) ? 'not installed (optional dependencies webgpu, @tensorflow/tfjs-backend-webgpu)' : msg.split('\n')[0]! };
    }
  }
  return {
    galmorph: VERSION,
    node: process.version,
    tfjs: tf.version.tfjs,
    plotly: plotlyVersion(),
    backend,
    webgpu,
    jupyter: jupyterStatus(),
    chromium: chromiumStatus(),
    data: dataRoots(),
    out: outDir(),
  };
}

/** The report as aligned text lines. */
export function formatEnvReport(r: EnvReport): string {
  const lines: string[] = [];
  const row = (k: string, v: string) => lines.push(`${k.padEnd(10)} ${v}`);
  row('galmorph', r.galmorph);
  row('node', r.node);
  row('tfjs', `${r.tfjs} (@tensorflow/tfjs API; plotly.js ${r.plotly})`);
  if ('error' in r.backend) {
    row('backend', `NONE — ${r.backend.error}`);
  } else {
    const threads = r.backend.threads ? `, ${r.backend.threads} thread${r.backend.threads > 1 ? 's' : ''}` : '';
    row('backend', `${r.backend.name} (${r.backend.packageName}${nativeDetail(r.backend)}${threads}) — ${r.backend.reason}`);
    for (const a of r.backend.attempts) row('', `  ${a.ok ? 'ok  ' : 'no  '}${a.name}${a.detail ? `: ${a.detail}` : ''}`);
    if (!process.env.GALMORPH_BACKEND) row('', `  (GALMORPH_BACKEND=${BACKEND_NAMES.join('|')} forces one)`);
    if (r.backend.name === 'wasm' || r.backend.name === 'onednn') row('', '  (GALMORPH_THREADS=n sets the thread count)');
  }
  const a = r.webgpu.adapter;
  if (a) {
    const inUse = !('error' in r.backend) && r.backend.name === 'webgpu';
    row('adapter', `${a.name}${inUse ? '' : a.software ? ' — software: used only with GALMORPH_BACKEND=webgpu' : ' — not in use'}`);
    row('', `  vendor ${a.vendor || '?'}, architecture ${a.architecture || '?'}, device ${a.device || '?'}, ${a.software ? 'software (CPU)' : 'hardware (GPU)'}`);
    row('', `  limits ${Object.entries(a.limits).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  } else {
    row('adapter', `none — ${r.webgpu.problem ?? 'unknown'}`);
  }
  const j = r.jupyter;
  row('jupyter', j.problem ? `NOT READY — ${j.problem}` : `${j.python}: ${j.versions}; tslab kernel registered`);
  row('', `  kernel spec: ${j.kernelSpec}`);
  row('chromium', r.chromium.path ? `${r.chromium.path} (${r.chromium.version ?? 'version unknown'})` : `NOT FOUND — ${r.chromium.problem}`);
  r.data.forEach((d, i) => row(i === 0 ? 'data' : '', `${d.exists ? 'ok  ' : 'no  '}${d.dir} (${d.source})`));
  if (!process.env.GALMORPH_DATA) row('', '  (GALMORPH_DATA=dir1:dir2 adds folders searched first)');
  row('out', r.out);
  return lines.join('\n');
}
