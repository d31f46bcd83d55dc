"""Independent PyTorch reference encoder for `npm run bench:reference-encoder` (bench/reference-encoder.ts).

The recipe of ../shared/notes/ring-calibration.md's honest rows, written from its description: a
4-block CNN (3x3 convolution, batch norm, ReLU, 2x2 max pool; 32, 64, 128, 256 filters; global
average pool: a 256-d representation), a dense head to Dirichlet concentrations 1 + 100*sigmoid,
the Dirichlet-multinomial negative log-likelihood of the vote counts summed over questions (a
question without votes adds nothing; a GZ1 class is one vote, i.e. cross-entropy on the normalised
concentrations), AdamW with a one-cycle learning rate (peak 3e-3), batch 64, random quarter-turns
and flips, the whole image resized to SIZE px (Lanczos). The vote counts come from galmorph
(votes.json), so only the trainer differs from `galmorph train`.
Writes the 470 ring galaxies' representations (whole image, eval mode) as CSV: id, f0..f255.
Usage: torch_reference_encoder.py VOTES.json FEATURES.csv [--epochs 6] [--size 96] [--seed 0] [--threads 2]
"""
import argparse
import json
import sys
import time

import numpy as np
import torch
import torch.nn as nn
from PIL import Image


def load_images(files, size):
    out = np.empty((len(files), 3, size, size), dtype=np.uint8)
    for i, f in enumerate(files):
        with Image.open(f) as im:
            out[i] = np.asarray(im.convert("RGB").resize((size, size), Image.LANCZOS)).transpose(2, 0, 1)
        if (i + 1) % 1000 == 0:
            print(f"  decoded {i + 1}/{len(files)}", file=sys.stderr, flush=True)
    return torch.from_numpy(out)


class Encoder(nn.Module):
    def __init__(self, widths=(32, 64, 128, 256)):
        super().__init__()
        layers, cin = [], 3
        for w in widths:
            layers += [nn.Conv2d(cin, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            cin = w
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.body = nn.Sequential(*layers)
        self.dim = cin

    def forward(self, x):
        return self.body(x)


def dirichlet_multinomial_nll(counts, alpha, groups):
    """Sum over questions of -log DM(counts | alpha), without the multinomial coefficient (constant)."""
    total = 0.0
    for g in groups:
        n, a = counts[:, g], alpha[:, g]
        n0, a0 = n.sum(1), a.sum(1)
        total = total - (torch.lgamma(a0) - torch.lgamma(n0 + a0) + (torch.lgamma(n + a) - torch.lgamma(a)).sum(1))
    return total


def augment(x):
    """A random quarter-turn and a random flip per image: the dihedral group, no resampling."""
    k = torch.randint(0, 4, (x.shape[0],))
    flip = torch.rand(x.shape[0]) < 0.5
    out = torch.empty_like(x)
    for i in range(x.shape[0]):
        xi = torch.rot90(x[i], int(k[i]), (1, 2))
        out[i] = torch.flip(xi, (2,)) if flip[i] else xi
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("votes")
    p.add_argument("features")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--size", type=int, default=96)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    args = p.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    with open(args.votes) as fh:
        votes = json.load(fh)
    groups = [torch.tensor(g) for g in votes["groups"]]
    train = votes["train"]
    print(f"torch {torch.__version__}, {args.threads} threads: {len(train)} galaxies, {len(votes['answers'])} answers, "
          f"{args.epochs} epochs at {args.size} px", file=sys.stderr, flush=True)
    t0 = time.time()
    images = load_images([g["file"] for g in train], args.size)
    counts = torch.tensor([g["counts"] for g in train], dtype=torch.float32)
    print(f"decoded in {time.time() - t0:.0f} s", file=sys.stderr, flush=True)

    encoder = Encoder()
    head = nn.Linear(encoder.dim, counts.shape[1])
    params = list(encoder.parameters()) + list(head.parameters())
    steps = (len(train) + args.batch - 1) // args.batch
    opt = torch.optim.AdamW(params, lr=args.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps * args.epochs)
    log = []
    t_train = time.time()
    for epoch in range(args.epochs):
        encoder.train()
        order = torch.randperm(len(train))
        total, seen, t = 0.0, 0, time.time()
        for s in range(steps):
            idx = order[s * args.batch:(s + 1) * args.batch]
            x = augment(images[idx].float() / 255.0)
            alpha = 1 + 100 * torch.sigmoid(head(encoder(x)))
            loss = dirichlet_multinomial_nll(counts[idx], alpha, groups).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
            seen += len(idx)
        log.append({"epoch": epoch + 1, "train_loss": total / seen, "seconds": time.time() - t})
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total / seen:.3f} ({time.time() - t:.0f} s)", file=sys.stderr, flush=True)
    train_s = time.time() - t_train

    encoder.eval()
    rings = votes["rings"]
    ring_images = load_images([r["file"] for r in rings], args.size)
    with torch.no_grad():
        feats = torch.cat([encoder(ring_images[i:i + 128].float() / 255.0) for i in range(0, len(rings), 128)]).numpy()
    with open(args.features, "w") as fh:
        fh.write("id," + ",".join(f"f{j}" for j in range(feats.shape[1])) + "\n")
        for r, f in zip(rings, feats):
            fh.write(r["id"] + "," + ",".join(f"{v:.6g}" for v in f) + "\n")
    with open(args.features[:-4] + ".train-log.json", "w") as fh:
        json.dump({"torch": torch.__version__, "threads": args.threads, "galaxies": len(train), "datasets": votes["datasets"],
                   "exclude": votes["exclude"], "epochs": log, "train_s": train_s, "args": vars(args)}, fh, indent=2)
    print(f"wrote {args.features} ({feats.shape[0]} x {feats.shape[1]}); training {train_s / 60:.1f} min", file=sys.stderr)


if __name__ == "__main__":
    main()
