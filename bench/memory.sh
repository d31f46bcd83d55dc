#!/usr/bin/env bash
# Peak resident memory of EfficientNetB0 train steps at 224 px, batch 32: galmorph (its chosen
# backend, or GALMORPH_BACKEND) against PyTorch 1.13 on the CPU (2 threads, jemalloc as in
# bench:backend), each measured by GNU time (`/usr/bin/time -v`, "Maximum resident set size").
# galmorph runs twice: the whole batch in one pass (like PyTorch), and in micro-batches of 8 (what
# bench:backend used while the wasm heap could not hold a batch of 32).
# Writes bench/results/memory.json.   bash bench/memory.sh [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-2}"
out=bench/results/memory.json
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
peak() { awk -F': ' '/Maximum resident set size/ {printf "%d", $2 / 1024}' "$1"; }

for micro in 32 8; do
  /usr/bin/time -v node -r tsx/cjs bench/step-memory.ts --model efficientnet-b0 --size 224 --batch 32 --micro "$micro" --steps "$steps" \
    > "$tmp/galmorph$micro.json" 2> "$tmp/galmorph$micro.time"
done
JEMALLOC=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 LD_PRELOAD=$JEMALLOC MALLOC_CONF=retain:true,dirty_decay_ms:-1,muzzy_decay_ms:-1 \
  /usr/bin/time -v "${GALMORPH_PYTHON:-/usr/bin/python3}" - "$steps" > "$tmp/torch.json" 2> "$tmp/torch.time" <<'PY'
import json, sys, time, torch, torch.nn as nn, torchvision
torch.set_num_threads(2)
steps = int(sys.argv[1])
net = torchvision.models.efficientnet_b0(weights=None)
model = nn.Sequential(net.features, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1280, 34)).train()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
x, y = torch.randn(32, 3, 224, 224), torch.randn(32, 34)
t = time.perf_counter()
for _ in range(steps):
    opt.zero_grad(set_to_none=True)
    nn.functional.mse_loss(model(x), y).backward()
    opt.step()
print(json.dumps({"torch": torch.__version__, "step_ms": round(1000 * (time.perf_counter() - t) / steps), "mkldnn": torch.backends.mkldnn.is_available()}))
PY
node -e '
const fs = require("fs");
const [g, g8, t, gp, g8p, tp, steps, out] = process.argv.slice(1);
const res = {
  what: "peak resident set size (GNU time -v) of a process running " + steps + " EfficientNetB0 train steps, 224 px, batch 32",
  date: new Date().toISOString(),
  galmorph: { ...JSON.parse(fs.readFileSync(g, "utf8").trim().split("\n").pop()), peak_rss_mib_time: Number(gp) },
  galmorph_micro_batches: { ...JSON.parse(fs.readFileSync(g8, "utf8").trim().split("\n").pop()), peak_rss_mib_time: Number(g8p) },
  torch: { ...JSON.parse(fs.readFileSync(t, "utf8").trim().split("\n").pop()), peak_rss_mib_time: Number(tp), threads: 2, allocator: "jemalloc retain" },
};
fs.writeFileSync(out, JSON.stringify(res, null, 2) + "\n");
console.log(JSON.stringify(res, null, 2));
' "$tmp/galmorph32.json" "$tmp/galmorph8.json" "$tmp/torch.json" "$(peak "$tmp/galmorph32.time")" "$(peak "$tmp/galmorph8.time")" "$(peak "$tmp/torch.time")" "$steps" "$out"
