"""PyTorch reference for `npm run bench:backend`: the same models, batch and measurement protocol.

Run by bench/backend.ts with /usr/bin/python3 (Debian python3-torch), 2 threads, and jemalloc
preloaded with retain:true (without it fresh large allocations page-fault heavily on these VMs);
for the GPU comparison (`--gpu`) with the GPU machine's python3 on CUDA: float32 with TF32 off
(galmorph's WebGPU kernels are float32), cuDNN benchmark mode, and a synchronisation after every
step (galmorph waits for each step's result too).
Prints one JSON object: {"torch": version, "device": name, "threads": n, "mkldnn": {available, enabled},
"rows": [{model, size, phase, batch, img_s, runs}]}.
Usage: torch_backend.py --serve (see serve()), or torch_backend.py '<json list of {model, size, batch, phases, micro_batch}>' REPEATS ITERS [DEVICE [TARGET_S]]
  DEVICE: cpu (default), cuda, or auto (cuda when available); ITERS 0: as many steps per timing as
  fill about TARGET_S seconds (default 1), judged from the second warm-up step.
"""
import json
import statistics
import sys
import time

import torch
import torch.nn as nn


def conv_bn_relu(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01), nn.ReLU(inplace=True)]


def plain_cnn(widths, pool_after):
    layers, cin = [], 3
    for i, w in enumerate(widths):
        layers += conv_bn_relu(cin, w)
        if i in pool_after:
            layers.append(nn.MaxPool2d(2))
        cin = w
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers), cin


def build(name):
    """Same architectures as src/models/encoders.ts, with a dense head of 34 outputs."""
    if name == "smallcnn":
        enc, width = plain_cnn([32, 64, 128], {0, 1})
    elif name == "galmorph-cnn":
        enc, width = plain_cnn([32, 64, 128, 192, 256], {0, 1, 2, 3})
    elif name == "efficientnet-b0":
        import torchvision

        net = torchvision.models.efficientnet_b0(weights=None)
        enc, width = nn.Sequential(net.features, nn.AdaptiveAvgPool2d(1), nn.Flatten()), 1280
    else:
        raise SystemExit(f"unknown model {name}")
    return nn.Sequential(enc, nn.Linear(width, 34))


def measure(fn, batch, repeats, iters, target_s=1.0):
    fn()
    t = time.perf_counter()
    fn()  # warm-up: allocator, mkldnn primitive caches, cuDNN algorithm search
    if iters <= 0:
        iters = min(50, max(1, int(-(-target_s // (time.perf_counter() - t)))))
    rates = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(iters):
            fn()
        rates.append(batch * iters / (time.perf_counter() - t))
    return statistics.median(rates), rates


def make_step(model, x, y, phase, micro, sync):
    """One forward pass (inference mode) or one train step (Adam, MSE, optional micro-batches)."""
    b = x.shape[0]
    if phase == "forward":
        model.eval()

        def step():
            with torch.inference_mode():
                model(x)
            sync()

        return step
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        for i in range(0, b, micro):
            loss = nn.functional.mse_loss(model(x[i : i + micro]), y[i : i + micro]) * (min(micro, b - i) / b)
            loss.backward()
        opt.step()
        sync()

    return step


def serve():
    """--serve (CPU): JSON commands on stdin, one reply line each, so that bench/backend.ts can
    alternate galmorph's timings with PyTorch's on a shared machine:
      {"cmd": "phase", "model", "size", "batch", "phase"}  build (if new), 2 warm-up steps
      {"cmd": "run", "iters": n}                            n steps -> {"seconds": s}
    """
    torch.set_num_threads(2)
    torch.manual_seed(0)
    key, model, x, y, step = None, None, None, None, None
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "phase":
            if key != (cmd["model"], cmd["size"], cmd["batch"]):
                key = (cmd["model"], cmd["size"], cmd["batch"])
                model = build(cmd["model"])
                x = torch.randn(cmd["batch"], 3, cmd["size"], cmd["size"])
                y = torch.randn(cmd["batch"], 34)
            step = make_step(model, x, y, cmd["phase"], cmd["batch"], lambda: None)
            step()
            step()
            mkldnn = {"available": torch.backends.mkldnn.is_available(), "enabled": bool(torch.backends.mkldnn.enabled)}
            reply = {"torch": torch.__version__, "device": "cpu", "threads": torch.get_num_threads(), "mkldnn": mkldnn}
        else:
            t = time.perf_counter()
            for _ in range(cmd["iters"]):
                step()
            reply = {"seconds": time.perf_counter() - t}
        print(json.dumps(reply), flush=True)


def main():
    if sys.argv[1] == "--serve":
        return serve()
    configs = json.loads(sys.argv[1])
    repeats, iters = int(sys.argv[2]), int(sys.argv[3])
    device = sys.argv[4] if len(sys.argv) > 4 else "cpu"
    target_s = float(sys.argv[5]) if len(sys.argv) > 5 else 1.0
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("torch_backend.py: CUDA was asked for but torch.cuda.is_available() is False")
        torch.backends.cudnn.benchmark = True
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
        name = torch.cuda.get_device_name(0)
        sync = torch.cuda.synchronize
    else:
        torch.set_num_threads(2)
        name = "cpu"
        sync = lambda: None  # noqa: E731
    torch.manual_seed(0)
    rows = []
    for cfg in configs:
        model = build(cfg["model"]).to(device)
        b, s = cfg["batch"], cfg["size"]
        x = torch.randn(b, 3, s, s, device=device)
        y = torch.randn(b, 34, device=device)
        for phase in cfg["phases"]:
            step = make_step(model, x, y, phase, cfg.get("micro_batch") or b, sync)
            med, runs = measure(step, b, repeats, iters, target_s)
            rows.append({"model": cfg["model"], "size": s, "phase": phase, "batch": b, "img_s": med, "runs": runs})
            print(f"  torch {cfg['model']} {s}px {phase}: {med:.1f} img/s", file=sys.stderr, flush=True)
    # Whether PyTorch's CPU convolutions can take its oneDNN (mkldnn) path, and its thread count.
    mkldnn = {"available": torch.backends.mkldnn.is_available(), "enabled": bool(torch.backends.mkldnn.enabled)}
    print(json.dumps({"torch": torch.__version__, "device": name, "threads": torch.get_num_threads(), "mkldnn": mkldnn, "rows": rows}))


if __name__ == "__main__":
    main()
