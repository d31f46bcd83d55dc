#!/usr/bin/env bash
# Runs the GPU comparison from the kit that scripts/gpu-kit.sh assembled (.gpukit/): no npm, no
# network, no Node needed on the machine, only its python3 with PyTorch (and torchvision) on CUDA.
#   1. unpacks the kit to a temporary folder; brings the Vulkan loader if the machine has none
#      (dpkg -x of the kit's Debian packages into /, then ldconfig: the device tool's recipe);
#      points Vulkan at NVIDIA's ICD if no driver file is set;
#   2. bench/webgpu-check: the adapter, gradients of the three encoders against the cpu backend,
#      a short training run with the loss falling (webgpu-check.json);
#   3. bench:backend --gpu: galmorph on webgpu and the same PyTorch models on CUDA, batches 32 and
#      128, forward and train step, plus a GPU-time profile of one step per model (backend-gpu.json).
# Results and the log go to $OUT when set (the device tool), else to --out-dir (default
# .cache/gpu-bench). Copy backend-gpu.json to bench/results/ afterwards.
#
# On the device machine (one call; about 4-6 minutes after the machine starts; galmorph's rows stop
# being started after 240 s so that PyTorch's always run):
#   device run: carry [".gpukit"], timeout_s 480, command "bash scripts/gpu-bench.sh"
# Here, end to end on a software adapter (Mesa lavapipe), tiny batches:
#   bash scripts/gpu-bench.sh --software --out-dir .cache/gpu-bench -- --quick --batches 2 --torch-device auto
# Options: --software (allow a software adapter; otherwise the run stops if Dawn offers no GPU),
#          --out-dir DIR, --kit FILE.tar.xz, --skip-check; after `--`, extra bench:backend options.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
log() { echo "[galmorph gpu-bench $(date +%H:%M:%S)] $*"; }

SOFTWARE=0
SKIP_CHECK=0
OUT_DIR="${OUT:-$ROOT/.cache/gpu-bench}"
KIT_ARCHIVE="$ROOT/.gpukit/galmorph-gpukit.tar.xz"
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --software) SOFTWARE=1 ;;
    --skip-check) SKIP_CHECK=1 ;;
    --out-dir) OUT_DIR="$2"; shift ;;
    --kit) KIT_ARCHIVE="$2"; shift ;;
    --) shift; EXTRA=("$@"); break ;;
    *) echo "unknown option $1 (see the head of $0)" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$OUT_DIR"
LOG="$OUT_DIR/gpu-bench.log"
exec > >(tee "$LOG") 2>&1
start=$(date +%s)

if [ ! -f "$KIT_ARCHIVE" ]; then
  log "no kit at $KIT_ARCHIVE: run bash scripts/gpu-kit.sh first (and carry .gpukit to the device)"
  exit 1
fi

# --- 1. unpack, Vulkan loader, driver --------------------------------------------------------------
WORK="$(mktemp -d /tmp/galmorph-gpu.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
if command -v xz >/dev/null 2>&1; then
  tar -xJf "$KIT_ARCHIVE" -C "$WORK"
else
  python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' "$KIT_ARCHIVE" "$WORK"
fi
K="$WORK/galmorph-gpukit"
NODE="$K/bin/node"
log "kit unpacked in $WORK: node $("$NODE" --version)"

if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
  log "no libvulkan.so.1 here: unpacking the kit's Vulkan loader and GL dispatch libraries into /"
  for f in "$K"/debs/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json \
           /etc/vulkan/icd.d/nvidia_icd.json /usr/local/share/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$f" ]; then
      export VK_DRIVER_FILES="$f" VK_ICD_FILENAMES="$f"
      log "Vulkan driver: $f"
      break
    fi
  done
fi
if [ -d /usr/local/nvidia/lib64 ]; then export LD_LIBRARY_PATH="/usr/local/nvidia/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L

export GALMORPH_BACKEND=webgpu
export GALMORPH_PYTHON="${GALMORPH_PYTHON:-$(command -v python3)}"
APP="$K/app"

# --- 2. checks ---------------------------------------------------------------------------------------
if [ "$SKIP_CHECK" = "0" ]; then
  log "webgpu check (gradients against the cpu backend, training)"
  "$NODE" "$APP/dist/bench/webgpu-check.js" --out "$OUT_DIR/webgpu-check.json"
  check=$?
  if [ ! -f "$OUT_DIR/webgpu-check.json" ]; then
    log "the webgpu backend did not start (exit $check): see the lines above"
    exit 1
  fi
  if [ "$SOFTWARE" = "0" ] && grep -q '"software": true' "$OUT_DIR/webgpu-check.json"; then
    log "Dawn offers only a software adapter here (no GPU driver found): stopping; --software runs anyway"
    exit 1
  fi
  [ "$check" = "0" ] || log "a check FAILED (see above); measuring anyway"
fi

# --- 3. the comparison --------------------------------------------------------------------------------
NOTE=()
if [ "$SOFTWARE" = "1" ]; then NOTE=(--note "software adapter (Mesa lavapipe on the CPU), not a GPU: verifies the kit end to end; neither side's img/s is a measurement"); fi
log "bench:backend --gpu ${EXTRA[*]:-}"
"$NODE" "$APP/dist/bench/backend.js" "${EXTRA[@]}" "${NOTE[@]}" --gpu --deadline-s 240 --out "$OUT_DIR/backend-gpu.json"
rc=$?
log "done in $(( $(date +%s) - start )) s (exit $rc); results in $OUT_DIR"
exit $rc
