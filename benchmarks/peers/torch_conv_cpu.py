#!/usr/bin/env python3
"""PyTorch peer of benchmarks/bench_cpu_conv.cpp: times the same convolutions on the CPU in fp32.

Shapes come from a file the C++ benchmark writes (one layer per line, conv-contract fields; transposed
layers as their role-swapped convolution, see make_conv_transpose2d in engine/backend.h; the shapes come from models/unet_cases.h), so both time exactly the same
work. For each layer: forward, backward-data (input gradient) and backward-weight, each timed alone
through aten::convolution_backward with an output mask, median of --repeats after --warmup runs.

  python3 torch_conv_cpu.py --shapes shapes.txt --threads 2 --json torch.json

Prints one "RESULT <layer> <batch> <op> <milliseconds>" line per measurement (the C++ benchmark reads
these) and writes the same as JSON.
"""
import argparse
import json
import platform
import statistics
import time

import torch
import torch.nn.functional as F


def timed(fn, warmup, repeats):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", required=True, help="shape file written by bench_cpu_conv")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2: the cores here)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", help="write results here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    results = []
    with open(args.shapes) as f, torch.no_grad():
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            name, transposed, *v = line.split()
            transposed = transposed == "1"
            n, c_in, h_in, w_in, c_out, h_out, w_out, kh, kw, sh, sw, ph, pw = map(int, v)
            stride, padding, dilation = [sh, sw], [ph, pw], [1, 1]
            w = torch.randn(c_out, c_in, kh, kw)
            flops = 2.0 * n * c_out * h_out * w_out * c_in * kh * kw
            if transposed:
                # Layer input is the conv's output side; the layer's weight (cin_t, cout_t, kh, kw) is w.
                x = torch.randn(n, c_out, h_out, w_out)
                gy = torch.randn(n, c_in, h_in, w_in)
                out_pad = [h_in - ((h_out - 1) * sh - 2 * ph + kh), w_in - ((w_out - 1) * sw - 2 * pw + kw)]
                fwd = lambda: F.conv_transpose2d(x, w, None, stride, padding, out_pad)
            else:
                x = torch.randn(n, c_in, h_in, w_in)
                gy = torch.randn(n, c_out, h_out, w_out)
                out_pad = [0, 0]
                fwd = lambda: F.conv2d(x, w, None, stride, padding)

            def backward(mask):
                return lambda: torch.ops.aten.convolution_backward(gy, x, w, None, stride, padding, dilation,
                                                                   transposed, out_pad, 1, mask)

            for op, fn in (("forward", fwd), ("backward-data", backward([True, False, False])),
                           ("backward-weight", backward([False, True, False]))):
                seconds = timed(fn, args.warmup, args.repeats)
                results.append({"layer": name, "batch": n, "op": op, "ms": seconds * 1e3,
                                "gflops": flops / seconds / 1e9})
                print(f"RESULT {name} {n} {op} {seconds * 1e3:.4f}", flush=True)

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"peer": "pytorch", "torch": torch.__version__, "threads": args.threads,
                       "machine": platform.processor() or platform.machine(), "precision": "fp32",
                       "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
