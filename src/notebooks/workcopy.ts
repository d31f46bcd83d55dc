/**
 * `npm run notebook`: Jupyter on working copies of the notebooks in work/ (git-ignored), so that
 * Jupyter's autosave writes a user's edits and outputs there and never into the tracked
 * notebooks/*.ipynb, which `npm run notebooks` generates from notebooks/src.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { projectRoot } from '../paths';
import { jupyterEnv } from './jupyter';

export interface WorkingCopies {
  /** Notebooks copied now (absent from the working folder). */
  copied: string[];
  /** Notebooks already there, left as the user last saved them. */
  kept: string[];
}

/** Copies each `<notebooks>/*.ipynb` to `<work>/` unless a copy is already there. */
export function prepareWorkingCopies(notebooksDir: string, workDir: string): WorkingCopies {
  if (!fs.existsSync(notebooksDir)) throw new Error(`galmorph: notebooks folder not found: ${notebooksDir}`);
  fs.mkdirSync(workDir, { recursive: true });
  const result: WorkingCopies = { copied: [], kept: [] };
  for (const f of fs.readdirSync(notebooksDir).filter((n) => n.endsWith('.ipynb')).sort()) {
    const target = path.join(workDir, f);
    if (fs.existsSync(target)) {
      result.kept.push(target);
    } else {
      fs.copyFileSync(path.join(notebooksDir, f), target);
      result.copied.push(target);
    }
  }
  return result;
}

/** Jupyter's line announcing the server, `http://127.0.0.1:8888/...?token=...`, or undefined. */
export function serverUrl(line: string): string | undefined {
  return /(https?:\/\/(?:127\.0\.0\.1|localhost)[^\s]*)/.exec(line)?.[1];
}

/**
 * Prepares work/ and runs Debian's jupyter-notebook there with galmorph's project-local Jupyter
 * path (its tslab kernel, and the trust database `npm run reproduce` signs into); `args` go to
 * jupyter-notebook (e.g. `--no-browser`, `--port=8890`). Resolves with its exit code.
 */
export function openNotebooks(args: string[], log: (line: string) => void = (l) => console.log(l)): Promise<number> {
  const root = projectRoot();
  const work = path.join(root, 'work');
  const copies = prepareWorkingCopies(path.join(root, 'notebooks'), work);
  log(`galmorph: working copies in ${work} (${copies.copied.length} copied, ${copies.kept.length} kept as you left them; delete one to start it afresh)`);
  return new Promise((resolve, reject) => {
    // As root (containers) Jupyter refuses to start without --allow-root; it stays on 127.0.0.1 behind its token.
    const rootArgs = process.getuid?.() === 0 ? ['--allow-root', '--ip=127.0.0.1'] : [];
    const child = spawn('jupyter-notebook', [`--notebook-dir=${work}`, ...rootArgs, ...args], {
      env: { ...process.env, ...jupyterEnv() },
      stdio: ['inherit', 'inherit', 'pipe'],
    });
    // Ending this command ends the server too, instead of leaving it running orphaned.
    const stop = (signal: NodeJS.Signals) => child.kill(signal);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop(signal));
    let announced = false;
    child.stderr!.on('data', (d: Buffer) => {
      process.stderr.write(d);
      const url = announced ? undefined : d.toString().split('\n').map(serverUrl).find((u) => u !== undefined);
      if (url) {
        announced = true;
        log(`galmorph: open ${url} and pick the TypeScript kernel`);
      }
    });
    child.on('error', (err) => reject(new Error(`galmorph: cannot start jupyter-notebook (${err.message}): run npm run setup`)));
    child.on('close', (code) => resolve(code ?? 1));
  });
}
