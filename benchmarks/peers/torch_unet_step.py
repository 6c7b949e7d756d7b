#!/usr/bin/env python3
"""The training step of tint's U-Net (models/unet.h) in PyTorch, timed the way `tint bench` times tint (which
runs this script with --peer): forward + masked loss, backward, Adam, each phase ended by a synchronisation,
the step the sum of the phases, median over repeats after warm-up. fp32, TF32 off. Also reports the median
of each phase and, on CUDA, the peak memory PyTorch's allocator held.

PyTorch is given its best simple setting (--setting best, the default): the step is timed with the fused
Adam, once in the default memory format and once channels_last, and the faster is the peer's time (both are
in the JSON, with which won). --setting plain times the default memory format with the for-each Adam (what
the figures before 2026-11-30 used); channels_last and fused name one setting each.

--serve runs the steps one at a time on request, so that `tint bench` can alternate its steps with the peer's
(each process idles while the other runs, so a load that comes and goes on the machine weighs on both alike):
after setting up (and, for best, timing each candidate setting for --repeats steps after --warmup) it prints
"ready SETTING"; then each line "step" on stdin runs one step and prints "TOTAL FORWARD BACKWARD OPTIMISER"
in milliseconds; "end" prints the JSON object below over the served steps and exits.

Needs an interpreter with torch, PyTorch 2.x (on the CPU: a pip install in a virtual environment; Debian's
1.13 is too old to count; on a GPU machine the image's python3). Prints one JSON object on stdout. Exit code
3 when torch or the device is missing.
"""
import argparse
import json
import sys
import time


def make_unet_class(torch, width, levels):
    """tint's models/unet.h in PyTorch, with the same parameter names (down.K.conv1, up.K.upconv, head)."""
    import torch.nn as nn

    def ch(level):
        return width * (1 << min(level, 3))

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.down = nn.ModuleList()
            for k in range(levels + 1):
                blk = nn.Module()
                blk.conv1 = nn.Conv2d(1, ch(0), 3, 1, 1) if k == 0 else nn.Conv2d(ch(k - 1), ch(k), 4, 2, 1)
                blk.conv2 = nn.Conv2d(ch(k), ch(k), 3, 1, 1)
                self.down.append(blk)
            self.up = nn.ModuleDict()
            for k in range(levels - 1, -1, -1):
                blk = nn.Module()
                blk.upconv = nn.ConvTranspose2d(ch(k + 1), ch(k), 4, 2, 1)
                blk.conv = nn.Conv2d(2 * ch(k), ch(k), 3, 1, 1)
                self.up[str(k)] = blk
            self.head = nn.Conv2d(ch(0), 2, 1)

        def forward(self, x):
            skips = []
            for blk in self.down:
                x = torch.relu(blk.conv2(torch.relu(blk.conv1(x))))
                skips.append(x)
            skips.pop()
            for k in range(levels - 1, -1, -1):
                blk = self.up[str(k)]
                x = torch.relu(blk.upconv(x))
                x = torch.cat([x, skips.pop()], 1)
                x = torch.relu(blk.conv(x))
            return torch.tanh(self.head(x))

    return UNet


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--levels", type=int, default=4)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--loss", default="l2", choices=["l1", "l2"])
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    p.add_argument("--setting", default="best", choices=["best", "plain", "channels_last", "fused", "channels_last+fused"],
                   help="memory format and Adam implementation (best: the faster of fused and channels_last+fused)")
    p.add_argument("--serve", action="store_true", help="run steps on request from stdin (see above)")
    p.add_argument("--precision", default="fp32", choices=["fp32", "tf32"],
                   help="tf32 lets cuDNN and cuBLAS use TF32 tensor cores (as tint's --precision tf32)")
    a = p.parse_args()
    try:
        import torch
        import torch.nn as nn
    except ImportError as e:
        print(f"torch_unet_step.py: no torch in {sys.executable}: {e}", file=sys.stderr)
        return 3
    if a.device == "cuda" and not torch.cuda.is_available():
        print("torch_unet_step.py: CUDA not available", file=sys.stderr)
        return 3
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.backends.cudnn.allow_tf32 = a.precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = a.precision == "tf32"
    torch.backends.cudnn.benchmark = True  # cuDNN picks its fastest algorithms, as in the kernel benchmark

    UNet = make_unet_class(torch, a.width, a.levels)
    dev = torch.device(a.device)

    def sync():
        if a.device == "cuda":
            torch.cuda.synchronize()

    def make_step(setting):
        """The model, optimiser and data under one setting; returns a function running one step."""
        channels_last = "channels_last" in setting
        fused = "fused" in setting
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        torch.manual_seed(0)
        net = UNet().to(dev).to(memory_format=fmt)
        opt = torch.optim.Adam(net.parameters(), lr=3e-4, fused=True) if fused else \
            torch.optim.Adam(net.parameters(), lr=3e-4)
        L = (torch.rand(a.batch, 1, a.size, a.size, device=dev) * 2 - 1).to(memory_format=fmt)
        target = (torch.rand(a.batch, 2, a.size, a.size, device=dev) * 2 - 1).to(memory_format=fmt)
        mask = (torch.rand(a.batch, 1, a.size, a.size, device=dev) < 0.9).float().to(memory_format=fmt)

        def step():
            """Returns the milliseconds of forward (with the loss), backward and optimiser (with zero_grad)."""
            t0 = time.perf_counter()
            pred = net(L)
            d = (pred - target) * mask
            per = d.abs() if a.loss == "l1" else d * d
            loss = per.sum() / (mask.sum() * 2)
            sync()
            t1 = time.perf_counter()
            loss.backward()
            sync()
            t2 = time.perf_counter()
            opt.step()
            opt.zero_grad(set_to_none=False)
            sync()
            t3 = time.perf_counter()
            return [(t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3]

        return step

    def measure(step):
        """Times a step function after warm-up; returns (sorted step ms, per-step phases)."""
        for _ in range(a.warmup):
            step()
        sync()
        if a.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        phases = [step() for _ in range(a.repeats)]
        return sorted(sum(p) for p in phases), phases

    candidates = ["fused", "channels_last+fused"] if a.setting == "best" else [a.setting]
    tried = {}
    best = None
    for setting in candidates:
        step = make_step(setting)
        if a.serve and len(candidates) == 1:  # nothing to choose: warm up, and the requests are the timing
            for _ in range(a.warmup):
                step()
            best = (setting, [], [], step)
            break
        times, phases = measure(step)
        tried[setting] = times[len(times) // 2]
        if best is None or tried[setting] < tried[best[0]]:
            best = (setting, times, phases, step)
    setting, times, phases, step = best
    if a.serve:
        sync()
        if a.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        print(f"ready {setting}", flush=True)
        phases = []
        for line in sys.stdin:
            if line.strip() == "step":
                p = step()
                phases.append(p)
                print(f"{sum(p):.4f} {p[0]:.4f} {p[1]:.4f} {p[2]:.4f}", flush=True)
            elif line.strip() == "end":
                break
            else:
                print(f"torch_unet_step.py: unknown request {line.strip()!r}", file=sys.stderr)
                return 2
        if not phases:
            print("torch_unet_step.py: served no steps", file=sys.stderr)
            return 2
        times = sorted(sum(p) for p in phases)

    def median(values):
        return sorted(values)[len(values) // 2]
    out = {
        "peer": "pytorch",
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name() if a.device == "cuda" else f"cpu ({torch.get_num_threads()} threads)",
        "batch": a.batch,
        "size": a.size,
        "ms_median": times[len(times) // 2],
        "ms_min": times[0],
        "ms_max": times[-1],
        "forward_ms": median([p[0] for p in phases]),
        "backward_ms": median([p[1] for p in phases]),
        "optimiser_ms": median([p[2] for p in phases]),
        "peak_bytes": torch.cuda.max_memory_allocated() if a.device == "cuda" else None,
        "repeats": len(phases),
        "served": a.serve,
        "setting": setting,
        "precision": a.precision,
        "settings_tried_ms": tried,
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
