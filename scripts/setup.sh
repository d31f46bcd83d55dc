#!/usr/bin/env bash
# galmorph set-up, shared by `npm test` and `npm run reproduce` (and `npm run setup`).
# Idempotent and quick when nothing changed: installs what is missing and nothing else.
#   1. npm dependencies (when node_modules is missing or older than package.json / the lock)
#   2. Debian packages for Jupyter, Chromium and redis-server (as root; otherwise prints the apt-get line)
#   3. compiles the TypeScript library to dist/ (incremental), and galmorph's oneDNN addon
#      (native/onednn; Debian libdnnl-dev + build-essential, optional: without it galmorph uses wasm)
#   4. registers the tslab kernel in the project-local Jupyter path .jupyter/ (never the user's)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
log() { echo "[galmorph setup] $*" >&2; }

# --- 1. Node and npm dependencies -------------------------------------------------------------
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
  log "galmorph needs Node.js 20 or newer; this is $(node --version)."
  exit 1
fi
stamp=node_modules/.galmorph-installed
if [ ! -f "$stamp" ] || [ package.json -nt "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  log "installing npm dependencies"
  # The optional native backends (@tensorflow/tfjs-node, -gpu) download libtensorflow at install
  # time; where that is impossible npm skips them and galmorph runs on wasm instead.
  npm install --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
# Notebooks say `import ... from "galmorph"`: make the package resolvable by its own name.
if [ "$(readlink node_modules/galmorph 2>/dev/null || true)" != ".." ]; then
  rm -rf node_modules/galmorph
  ln -s .. node_modules/galmorph
fi

# --- 2. Jupyter (Debian's classic Notebook, nbclient, nbconvert) and Chromium ------------------
PY="${GALMORPH_PYTHON:-/usr/bin/python3}"
APT_JUPYTER="jupyter-notebook jupyter-nbconvert python3-nbclient jupyter-client python3-ipykernel"
need=""
"$PY" -c 'import nbclient, nbconvert, nbformat, jupyter_client, ipykernel' >/dev/null 2>&1 || need="$APT_JUPYTER"
chromium_bin="${GALMORPH_CHROMIUM:-}"
if [ -z "$chromium_bin" ]; then
  for c in /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome; do
    if [ -x "$c" ]; then chromium_bin="$c"; break; fi
  done
fi
[ -n "$chromium_bin" ] || need="$need chromium"
# Redis for `galmorph embed --queue` / `galmorph worker` (BullMQ); the tests start their own server.
command -v redis-server >/dev/null 2>&1 || need="$need redis-server"
if [ -n "$need" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian packages:$need"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
  else
    log "galmorph needs Debian packages that are missing. Install them with:"
    log "  sudo apt-get install -y$need"
    exit 1
  fi
fi

# --- 2b. oneDNN and a C++ compiler for the native kernels (optional) ---------------------------
# Missing packages never stop the set-up: the onednn backend is then unavailable and galmorph
# runs on wasm, saying why (`galmorph env`).
APT_NATIVE=""
[ -f /usr/include/oneapi/dnnl/dnnl.hpp ] || APT_NATIVE="libdnnl-dev"
command -v g++ >/dev/null 2>&1 && command -v make >/dev/null 2>&1 || APT_NATIVE="$APT_NATIVE build-essential"
if [ -n "$APT_NATIVE" ] && [ "${GALMORPH_NATIVE:-1}" != "0" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian packages for the oneDNN backend: $APT_NATIVE"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $APT_NATIVE >/dev/null; } ||
      log "could not install $APT_NATIVE; galmorph will use the wasm backend"
  else
    log "for the faster onednn backend install:  sudo apt-get install -y $APT_NATIVE"
  fi
fi

# --- 3. Build ------------------------------------------------------------------------------
node node_modules/typescript/bin/tsc -p tsconfig.json  # the project's typescript (~5.9), not the one tslab bundles as .bin/tsc
bash scripts/build-native.sh || true

# --- 4. tslab kernel in the project-local Jupyter path ---------------------------------------
spec="$ROOT/.jupyter/share/jupyter/kernels/tslab/kernel.json"
tslab_bin="$ROOT/node_modules/.bin/tslab"
kernel_bin="$ROOT/bin/tslab-kernel.js"  # tslab with its ZeroMQ sends queued (see the file)
if [ ! -f "$spec" ] || ! grep -qF "\"$kernel_bin\"" "$spec"; then
  log "registering the tslab kernel in $ROOT/.jupyter"
  "$tslab_bin" install --python="$PY" --prefix="$ROOT/.jupyter" --binary="$kernel_bin" >/dev/null
fi
