"""Where PyTorch's train step goes, op by op (torch.autograd.profiler), for comparison with
bench/profile-step.ts:  python3 bench/torch_profile.py MODEL SIZE [BATCH]
Same model, loss and optimizer as torch_backend.py; 2 threads; run with jemalloc like bench:backend."""
import sys

import torch
import torch.nn as nn

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from torch_backend import build, make_step  # noqa: E402

model_name, size = sys.argv[1], int(sys.argv[2])
batch = int(sys.argv[3]) if len(sys.argv) > 3 else 32
torch.set_num_threads(2)
torch.manual_seed(0)
model = build(model_name)
x, y = torch.randn(batch, 3, size, size), torch.randn(batch, 34)
step = make_step(model, x, y, "train", batch, lambda: None)
step()
step()
with torch.autograd.profiler.profile() as prof:
    step()
print(f"PyTorch {torch.__version__}, mkldnn {torch.backends.mkldnn.is_available()}, {torch.get_num_threads()} threads: {model_name} {size}px batch {batch}, one train step")
print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))
