#!/usr/bin/env python3
"""Loads a tint checkpoint (model.safetensors) into the same U-Net in PyTorch with strict name and shape
checking, and runs it once. Proves that a PyTorch user can take tint's weights as they are.

Needs torch and the safetensors package. Exit code 3 when either is missing (callers treat it as a skip).
"""
import sys


def main():
    if len(sys.argv) != 2:
        print("usage: torch_load_checkpoint.py RUN/model.safetensors", file=sys.stderr)
        return 2
    try:
        import torch
        from safetensors import safe_open
        from safetensors.torch import load_file
    except ImportError as e:
        print(f"torch_load_checkpoint.py: {e}", file=sys.stderr)
        return 3
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    from torch_unet_step import make_unet_class

    path = sys.argv[1]
    with safe_open(path, "pt") as f:
        meta = f.metadata()
    width, levels, size = int(meta["width"]), int(meta["levels"]), int(meta.get("image_size", 64))
    net = make_unet_class(torch, width, levels)()
    net.load_state_dict(load_file(path), strict=True)  # every name and shape must match
    with torch.no_grad():
        out = net(torch.rand(1, 1, size, size) * 2 - 1)
    assert out.shape == (1, 2, size, size) and torch.isfinite(out).all() and out.abs().max() <= 1
    print(f"loaded {path} into PyTorch's U-Net (width {width}, levels {levels}): strict load OK, output {tuple(out.shape)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
