#!/usr/bin/env python3
"""PyTorch peer of benchmarks/bench_cpu_conv.cpp: times the same convolutions on the CPU in fp32.

Shapes come from a file the C++ benchmark writes (one layer per line, conv-contract fields; transposed
layers as their role-swapped convolution, see make_conv_transpose2d in engine/backend.h; the shapes come from models/unet_cases.h), so both time exactly the same
work. For each layer: forward, backward-data (input gradient) and backward-weight, each timed alone
through aten::convolution_backward with an output mask, median of --repeats after --warmup runs.

Layout: PyTorch's best simple setting is one memory format for the whole model. With --layout auto (the
default) every product is timed in both NCHW and channels_last (interleaved), and the format with the
smaller total is the one reported, as a user would pick it; the other format's times are in the JSON.

  ~/venv-torch/bin/python torch_conv_cpu.py --shapes shapes.txt --threads 2 --json torch.json

Prints "TORCH <version>", "LAYOUT <format and why>" and one "RESULT <layer> <batch> <op> <milliseconds>"
line per measurement (the C++ benchmark reads these), and writes the same as JSON.
"""
import argparse
import json
import platform
import statistics
import time

import torch
import torch.nn.functional as F


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", required=True, help="shape file written by bench_cpu_conv")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2: the cores here)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--layout", choices=["auto", "nchw", "channels_last"], default="auto",
                    help="memory format (default auto: time both, report the faster in total)")
    ap.add_argument("--json", help="write results here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    layouts = ["nchw", "channels_last"] if args.layout == "auto" else [args.layout]
    fmt_of = {"nchw": torch.contiguous_format, "channels_last": torch.channels_last}
    results = []
    with open(args.shapes) as f, torch.no_grad():
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            name, transposed, *v = line.split()
            transposed = transposed == "1"
            n, c_in, h_in, w_in, c_out, h_out, w_out, kh, kw, sh, sw, ph, pw = map(int, v)
            stride, padding, dilation = [sh, sw], [ph, pw], [1, 1]
            w0 = torch.randn(c_out, c_in, kh, kw)
            flops = 2.0 * n * c_out * h_out * w_out * c_in * kh * kw
            if transposed:
                # Layer input is the conv's output side; the layer's weight (cin_t, cout_t, kh, kw) is w.
                x0 = torch.randn(n, c_out, h_out, w_out)
                gy0 = torch.randn(n, c_in, h_in, w_in)
                out_pad = [h_in - ((h_out - 1) * sh - 2 * ph + kh), w_in - ((w_out - 1) * sw - 2 * pw + kw)]
            else:
                x0 = torch.randn(n, c_in, h_in, w_in)
                gy0 = torch.randn(n, c_out, h_out, w_out)
                out_pad = [0, 0]

            def products(layout):
                mf = fmt_of[layout]
                x, w, gy = (t.contiguous(memory_format=mf) for t in (x0, w0, gy0))
                if transposed:
                    fwd = lambda: F.conv_transpose2d(x, w, None, stride, padding, out_pad)
                else:
                    fwd = lambda: F.conv2d(x, w, None, stride, padding)

                def backward(mask):
                    return lambda: torch.ops.aten.convolution_backward(gy, x, w, None, stride, padding, dilation,
                                                                       transposed, out_pad, 1, mask)

                return (("forward", fwd), ("backward-data", backward([True, False, False])),
                        ("backward-weight", backward([False, True, False])))

            per_layout = {layout: dict(products(layout)) for layout in layouts}
            for op in ("forward", "backward-data", "backward-weight"):
                # Interleaved, so that a change of load weighs on both formats alike.
                for fns in per_layout.values():
                    for _ in range(args.warmup):
                        fns[op]()
                times = {layout: [] for layout in layouts}
                for _ in range(args.repeats):
                    for layout, fns in per_layout.items():
                        t0 = time.perf_counter()
                        fns[op]()
                        times[layout].append(time.perf_counter() - t0)
                row = {"layer": name, "batch": n, "op": op, "gflop": flops / 1e9}
                for layout in layouts:
                    row["ms_" + layout] = statistics.median(times[layout]) * 1e3
                results.append(row)

    total = {layout: sum(r["ms_" + layout] for r in results) for layout in layouts}
    best = min(layouts, key=lambda layout: total[layout])
    print(f"TORCH {torch.__version__}", flush=True)
    why = ", ".join(f"{layout} {total[layout]:.1f} ms" for layout in layouts)
    print(f"LAYOUT {best} (one format for all layers; totals {why})", flush=True)
    for r in results:
        r["ms"] = r["ms_" + best]
        r["gflops"] = r["gflop"] / r["ms"] * 1e3
        print(f"RESULT {r['layer']} {r['batch']} {r['op']} {r['ms']:.4f}", flush=True)

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"peer": "pytorch", "torch": torch.__version__, "threads": args.threads, "layout": best,
                       "layout_totals_ms": total,
                       "machine": platform.processor() or platform.machine(), "precision": "fp32",
                       "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
