#!/usr/bin/env bash
# Set-up for `npm run bench:backend`: the PyTorch reference (Debian python3-torch, torchvision for
# EfficientNetB0) and jemalloc, which the reference preloads. Installs them as root; otherwise
# prints the apt-get line (the benchmark then reports that the reference is missing, never a number).
set -euo pipefail
PY="${GALMORPH_PYTHON:-/usr/bin/python3}"
need=""
"$PY" -c 'import torch, torchvision' >/dev/null 2>&1 || need="python3-torch python3-torchvision"
[ -e /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 ] || need="$need libjemalloc2"
if [ -n "$need" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "[galmorph bench] installing Debian packages: $need" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
  else
    echo "[galmorph bench] the PyTorch reference needs: sudo apt-get install -y $need" >&2
  fi
fi
