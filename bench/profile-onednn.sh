#!/usr/bin/env bash
# Where a train step's time goes on the onednn backend, beside PyTorch's own profile of the same
# step: writes bench/results/profile-onednn-MODEL-SIZE.txt with
#   1. bench/profile-step.ts: tfjs kernels of one step by total time (tf.profile);
#   2. oneDNN's own timing of every primitive in that run (ONEDNN_VERBOSE=1), summed by kind;
#   3. bench/torch_profile.py: PyTorch's ops of one step by self CPU time.
#   bash bench/profile-onednn.sh MODEL SIZE [BATCH] [MICRO]
set -euo pipefail
cd "$(dirname "$0")/.."
model=$1 size=$2 batch=${3:-32} micro=${4:-}
out=bench/results/profile-onednn-$model-$size.txt
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
ONEDNN_VERBOSE=1 node -r tsx/cjs bench/profile-step.ts --model "$model" --size "$size" --batch "$batch" ${micro:+--micro "$micro"} > "$tmp" 2>&1
{
  echo "# galmorph (onednn), $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
  grep -v '^onednn_verbose' "$tmp" | grep -v -e '^$' -e '====' -e 'Hi, looks like'
  echo
  echo "# oneDNN primitives over the whole run (3 train steps + the profiled one): ms by primitive kind and pass"
  grep '^onednn_verbose,exec' "$tmp" | awk -F, '{k=$4" "$6; t[k]+=$NF; n[k]++; all+=$NF} END {for (k in t) printf "%10.1f ms %6d calls  %s\n", t[k], n[k], k; printf "%10.1f ms total\n", all}' | sort -rn
  echo
  echo "# PyTorch"
  OMP_NUM_THREADS=2 LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 MALLOC_CONF=retain:true,dirty_decay_ms:-1,muzzy_decay_ms:-1 \
    "${GALMORPH_PYTHON:-/usr/bin/python3}" bench/torch_profile.py "$model" "$size" "$batch" 2>&1
} > "$out"
echo "wrote $out"
