/**
 * The project-local Jupyter: galmorph registers its tslab kernel under `<project>/.jupyter` and
 * points Jupyter there through environment variables, never touching the user's own config.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { projectRoot } from '../paths';

/** The Python that has Jupyter (Debian's), `GALMORPH_PYTHON` overrides. */
export function jupyterPython(): string {
  return process.env.GALMORPH_PYTHON ?? '/usr/bin/python3';
}

export function jupyterHome(): string {
  return path.join(projectRoot(), '.jupyter');
}

/** Environment variables that make Jupyter use only the project-local folders. */
export function jupyterEnv(): Record<string, string> {
  const home = jupyterHome();
  return {
    JUPYTER_PATH: path.join(home, 'share', 'jupyter'),
    JUPYTER_CONFIG_DIR: path.join(home, 'config'),
    JUPYTER_DATA_DIR: path.join(home, 'data'),
    JUPYTER_RUNTIME_DIR: path.join(home, 'runtime'),
  };
}

export function kernelSpecFile(): string {
  return path.join(jupyterHome(), 'share', 'jupyter', 'kernels', 'tslab', 'kernel.json');
}

export interface JupyterStatus {
  python: string;
  /** Jupyter's executor and exporter importable from that Python. */
  nbclient: boolean;
  nbconvert: boolean;
  versions: string;
  /** The tslab kernel spec is registered in the project-local path and points at this checkout. */
  kernelRegistered: boolean;
  kernelSpec: string;
  problem?: string;
}

/** Checks what notebook execution needs, without changing anything. */
export function jupyterStatus(): JupyterStatus {
  const python = jupyterPython();
  const spec = kernelSpecFile();
  let kernelRegistered = false;
  if (fs.existsSync(spec)) {
    try {
      const argv = JSON.parse(fs.readFileSync(spec, 'utf8')).argv as string[];
      kernelRegistered = fs.existsSync(argv[0]!);
    } catch {
      kernelRegistered = false;
    }
  }
  const probe = spawnSync(
    python,
    ['-c', 'import nbclient, nbconvert, nbformat; print(f"nbclient {nbclient.__version__}, nbconvert {nbconvert.__version__}")'],
    { encoding: 'utf8' },
  );
  const ok = probe.status === 0;
  const status: JupyterStatus = {
    python,
    nbclient: ok,
    nbconvert: ok,
    versions: ok ? probe.stdout.trim() : '',
    kernelRegistered,
    kernelSpec: spec,
  };
  if (!ok) {
    status.problem =
      probe.error !== undefined
        ? `${python} not found`
        : `Jupyter is not importable from ${python}: install it with sudo apt-get install -y jupyter-notebook jupyter-nbconvert python3-nbclient jupyter-client python3-ipykernel`;
  } else if (!kernelRegistered) {
    status.problem = 'the tslab kernel is not registered for this checkout: run `npm run setup`';
  }
  return status;
}
