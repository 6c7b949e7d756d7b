#!/usr/bin/env python3
"""Training parity with PyTorch: does tint train what PyTorch trains?

`tint train --dump-batches DIR` writes the initial weights (DIR/init.safetensors), the exact tensors fed to the
model at every step (DIR/step_NNNNNN_{L,ab,mask}.npy), the loss tint computed at each step (DIR/losses.csv)
and the weights after the last step (DIR/final.safetensors). This script builds the same U-Net in PyTorch
(benchmarks/peers/torch_unet_step.py), loads tint's initial weights, feeds the very same batches through the
same masked loss (mean over the real pixels and both channels) and the same Adam (torch.optim.Adam, betas 0.9
and 0.999, eps 1e-8, no weight decay), in float32 on the CPU, and compares:
  - the loss at every step: relative difference |tint - torch| / |torch|;
  - the final weights: max |tint - torch| over all parameters, and the same relative to the weights' scale.
It also runs the comparison in float64 (PyTorch's model and optimiser in double) to show how much of the
difference is float32 rounding in either engine.

usage: torch_train_parity.py DUMP_DIR [--loss l1|l2] [--lr 3e-4] [--json OUT.json] [--tolerance 1e-4]
Exit status: 0 when every step's relative loss difference is below the tolerance, 1 when not, 3 when torch,
numpy or safetensors is missing (callers treat it as a skip).
"""
import argparse
import csv
import glob
import json
import os
import sys


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dump", help="the folder written by `tint train --dump-batches DIR`")
    p.add_argument("--loss", choices=["l1", "l2"], default=None, help="default: from init.safetensors' metadata")
    p.add_argument("--lr", type=float, default=None, help="default: from init.safetensors' metadata, else 3e-4")
    p.add_argument("--json", help="write the figures here")
    p.add_argument("--tolerance", type=float, default=1e-4, help="largest relative loss difference allowed")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default: torch's choice)")
    a = p.parse_args()
    try:
        import numpy as np
        import torch
        from safetensors import safe_open
        from safetensors.torch import load_file
    except ImportError as e:
        print(f"torch_train_parity.py: {e} (needs torch, numpy and safetensors)", file=sys.stderr)
        return 3
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from torch_unet_step import make_unet_class

    if a.threads > 0:
        torch.set_num_threads(a.threads)
    init = os.path.join(a.dump, "init.safetensors")
    with safe_open(init, "pt") as f:
        meta = f.metadata() or {}
    width, levels = int(meta["width"]), int(meta["levels"])
    loss_kind = a.loss or meta.get("loss", "l2")
    lr = a.lr if a.lr is not None else float(meta.get("lr", 3e-4))

    tint_losses = {}
    with open(os.path.join(a.dump, "losses.csv")) as f:
        for row in csv.DictReader(f):
            tint_losses[int(row["step"])] = float(row["loss"])
    steps = sorted(int(os.path.basename(s)[5:11]) for s in glob.glob(os.path.join(a.dump, "step_*_L.npy")))
    assert steps and steps == list(range(1, len(steps) + 1)), f"{a.dump}: steps missing among {steps[:5]}..."

    def run(dtype):
        torch.manual_seed(0)
        net = make_unet_class(torch, width, levels)().to(dtype)
        net.load_state_dict({k: v.to(dtype) for k, v in load_file(init).items()}, strict=True)
        opt = torch.optim.Adam(net.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
        losses = []
        for s in steps:
            def load(part):
                return torch.from_numpy(np.load(os.path.join(a.dump, f"step_{s:06d}_{part}.npy"))).to(dtype)
            L, ab, mask = load("L"), load("ab"), load("mask")
            opt.zero_grad(set_to_none=False)
            d = (net(L) - ab) * mask
            per = d.abs() if loss_kind == "l1" else d * d
            loss = per.sum() / (mask.sum() * 2)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return net, losses

    net32, losses32 = run(torch.float32)
    net64, losses64 = run(torch.float64)
    final = load_file(os.path.join(a.dump, "final.safetensors"))

    def rel(x, y):
        return abs(x - y) / max(abs(y), 1e-30)

    loss_rel32 = [rel(tint_losses[s], l) for s, l in zip(steps, losses32)]
    loss_rel64 = [rel(tint_losses[s], l) for s, l in zip(steps, losses64)]
    torch_rel = [rel(l32, l64) for l32, l64 in zip(losses32, losses64)]

    def weight_diff(net):
        worst, worst_name, scale = 0.0, "", 0.0
        for name, t in net.state_dict().items():
            diff = (final[name].double() - t.double()).abs().max().item()
            scale = max(scale, t.double().abs().max().item())
            if diff > worst:
                worst, worst_name = diff, name
        return worst, worst_name, scale

    w32, w32_name, scale = weight_diff(net32)
    w64, w64_name, _ = weight_diff(net64)
    figures = {
        "dump": a.dump, "steps": len(steps), "width": width, "levels": levels, "loss": loss_kind, "lr": lr,
        "batch_shape": list(np.load(os.path.join(a.dump, "step_000001_L.npy")).shape),
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "loss_rel_diff_vs_torch_fp32": {"max": max(loss_rel32), "last": loss_rel32[-1]},
        "loss_rel_diff_vs_torch_fp64": {"max": max(loss_rel64), "last": loss_rel64[-1]},
        "torch_fp32_vs_fp64_loss_rel_diff": {"max": max(torch_rel), "last": torch_rel[-1]},
        "final_weights_max_abs_diff_vs_torch_fp32": {"value": w32, "tensor": w32_name},
        "final_weights_max_abs_diff_vs_torch_fp64": {"value": w64, "tensor": w64_name},
        "largest_weight": scale,
        "first_losses": {"tint": [tint_losses[s] for s in steps[:3]], "torch_fp32": losses32[:3]},
        "last_losses": {"tint": tint_losses[steps[-1]], "torch_fp32": losses32[-1], "torch_fp64": losses64[-1]},
        "tolerance": a.tolerance,
    }
    print(f"parity over {len(steps)} steps ({loss_kind}, lr {lr}, U-Net width {width} levels {levels}, "
          f"batch {figures['batch_shape']}, torch {torch.__version__}):")
    print(f"  loss, relative difference tint vs torch fp32: max {max(loss_rel32):.3e}, last {loss_rel32[-1]:.3e}")
    print(f"  loss, relative difference tint vs torch fp64: max {max(loss_rel64):.3e}, last {loss_rel64[-1]:.3e}")
    print(f"  loss, relative difference torch fp32 vs fp64: max {max(torch_rel):.3e}")
    print(f"  final weights, max |tint - torch fp32| {w32:.3e} ({w32_name}), vs fp64 {w64:.3e} "
          f"(largest weight {scale:.3f})")
    print(f"  loss at step 1: tint {tint_losses[steps[0]]:.9g} torch {losses32[0]:.9g}; at step {steps[-1]}: "
          f"tint {tint_losses[steps[-1]]:.9g} torch {losses32[-1]:.9g}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(figures, f, indent=2)
    ok = max(loss_rel32) < a.tolerance
    print("PARITY OK" if ok else f"PARITY FAILED: a loss differs by more than {a.tolerance:g}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
