#!/usr/bin/env python3
"""The data pipeline of tint, done with PIL + numpy: the peer of benchmarks/bench_data_pipeline.cpp.

Same work per image: decode to 8-bit RGB (alpha over white; JPEGs reduced in the DCT domain by Image.draft
while both sides stay >= 2*S, as tint does with libjpeg-turbo), resize the longest side to S with PIL's
antialiased BILINEAR (a tent filter widened by the shrink factor, like tint's), pad to S x S with black and a
mask, random horizontal flip, sRGB -> Lab (D65) -> L/50-1, a/110, b/110 in float32, batches of
(N,1,S,S) / (N,2,S,S) / (N,1,S,S). Workers are processes (multiprocessing), the usual way around the GIL.
Prints one line per worker count: `workers=W images_per_s=X decode_ms=.. resize_ms=.. colour_ms=.. batching_ms=..`
(per-image milliseconds, summed over workers). Exits 77 when PIL or numpy is missing.
"""
import argparse
import os
import statistics
import sys
import time

try:
    import numpy as np
    from PIL import Image
except ImportError as e:  # the benchmark reports the peer as skipped
    print(f"skip: {e}", file=sys.stderr)
    sys.exit(77)

EXTENSIONS = {".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".tga", ".gif", ".webp"}
_LIN = None
_M = np.array([[0.4124564, 0.3575761, 0.1804375],
               [0.2126729, 0.7151522, 0.0721750],
               [0.0193339, 0.1191920, 0.9503041]], dtype=np.float32)
_WHITE = np.array([0.95047, 1.0, 1.08883], dtype=np.float32)


def linear_table():
    global _LIN
    if _LIN is None:
        c = np.arange(256, dtype=np.float64) / 255.0
        _LIN = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)
    return _LIN


def to_lab_scaled(rgb):
    lin = linear_table()[rgb]                       # (h, w, 3) float32
    xyz = lin @ _M.T / _WHITE
    eps, kappa = 216.0 / 24389.0, 24389.0 / 27.0
    f = np.where(xyz > eps, np.cbrt(xyz), (kappa * xyz + 16.0) / 116.0)
    L = 116.0 * f[..., 1] - 16.0
    a = 500.0 * (f[..., 0] - f[..., 1])
    b = 200.0 * (f[..., 1] - f[..., 2])
    return L / 50.0 - 1.0, a / 110.0, b / 110.0


def sample(args):
    path, S, flip = args
    t0 = time.perf_counter()
    try:
        im = Image.open(path)
        # The same DCT-domain reduction tint's loader asks libjpeg for: both sides stay >= 2 * S.
        im.draft(None, (2 * S, 2 * S))
        im.load()
    except Exception:
        return None
    if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(bg, im)
    im = im.convert("RGB")
    t1 = time.perf_counter()
    w, h = im.size
    if w >= h:
        ow, oh = S, max(1, round(h * S / w))
    else:
        ow, oh = max(1, round(w * S / h)), S
    im = im.resize((ow, oh), Image.BILINEAR)
    if flip:
        im = im.transpose(Image.FLIP_LEFT_RIGHT)
    rgb = np.asarray(im)
    t2 = time.perf_counter()
    L = np.full((S, S), -1.0, np.float32)
    ab = np.zeros((2, S, S), np.float32)
    mask = np.zeros((S, S), np.float32)
    l, a, b = to_lab_scaled(rgb)
    L[:oh, :ow] = l
    ab[0, :oh, :ow] = a
    ab[1, :oh, :ow] = b
    mask[:oh, :ow] = 1.0
    t3 = time.perf_counter()
    return L, ab, mask, (t1 - t0, t2 - t1, t3 - t2)


def run(paths, S, batch, workers, seed):
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(paths))
    flips = rng.integers(0, 2, len(paths))
    jobs = [(paths[i], S, bool(flips[k])) for k, i in enumerate(order)]
    stage = [0.0, 0.0, 0.0, 0.0]
    count = 0
    t0 = time.perf_counter()
    pool = None
    if workers > 1:
        import multiprocessing as mp
        pool = mp.get_context("fork").Pool(workers)
        results = pool.imap(sample, jobs, chunksize=2)
    else:
        results = map(sample, jobs)
    pending = []

    def flush():
        nonlocal count
        tb = time.perf_counter()
        Ls = np.stack([p[0] for p in pending])[:, None]
        abs_ = np.stack([p[1] for p in pending])
        ms = np.stack([p[2] for p in pending])[:, None]
        assert Ls.shape[1] == 1 and abs_.shape[1] == 2 and ms.shape[1] == 1
        count += len(pending)
        pending.clear()
        stage[3] += time.perf_counter() - tb

    for r in results:
        if r is None:
            continue
        for k in range(3):
            stage[k] += r[3][k]
        pending.append(r)
        if len(pending) == batch:
            flush()
    if pending:
        flush()
    wall = time.perf_counter() - t0
    if pool:
        pool.close()
        pool.join()
    return count / wall, [1000.0 * s / max(count, 1) for s in stage]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--workers", default="1")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0, help="first repeat's seed (the benchmark interleaves repeats)")
    a = ap.parse_args()
    paths = sorted(os.path.join(r, f) for r, ds, fs in os.walk(a.dir, followlinks=True)
                   for f in fs if os.path.splitext(f)[1].lower() in EXTENSIONS and not f.startswith("."))
    if a.limit:
        paths = paths[: a.limit]
    if not paths:
        print(f"no images under {a.dir}", file=sys.stderr)
        sys.exit(2)
    for w in [int(x) for x in a.workers.split(",")]:
        runs = [run(paths, a.size, a.batch, w, seed) for seed in range(a.seed, a.seed + a.repeats)]
        runs.sort(key=lambda r: r[0])
        ips, st = runs[len(runs) // 2]
        print(f"workers={w} images_per_s={ips:.2f} decode_ms={st[0]:.3f} resize_ms={st[1]:.3f} "
              f"colour_ms={st[2]:.3f} batching_ms={st[3]:.3f}", flush=True)


if __name__ == "__main__":
    main()
