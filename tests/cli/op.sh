#!/usr/bin/env bash
# `tint op`, the op lab: --check agrees with cpu-ref on cpu and cuda-emu for conv2d, conv_transpose2d and
# relu; --dump then --inputs round-trips to identical outputs; a wrong-shaped or missing .npy, an unknown op,
# variant or shape are one-line errors with exit 1; and a gradient written by --dump is checked by hand in
# python (no numpy: the .npy files are parsed here) against the contract's formula in double.
# usage: bash op.sh <tint-binary> <source-dir>; exit 0 pass, 1 fail.
set -u
TINT=$(realpath "$1")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# A command that must succeed; its output is kept in $TMP/out.
ok() {
  if ! "$TINT" "$@" > "$TMP/out" 2>&1; then
    fail "tint $* exited $?:"
    sed 's/^/    /' "$TMP/out" | head -20
  fi
}
# A command that must fail with status 1 and one error line containing $1.
refuse() {
  local want=$1
  shift
  local out status
  out=$("$TINT" "$@" 2>&1 >/dev/null)
  status=$?
  if [ "$status" -ne 1 ] || [ "$(printf '%s\n' "$out" | grep -c .)" -ne 1 ] || ! printf '%s' "$out" | grep -qF -- "$want"; then
    fail "tint $*: status $status, wanted one error line with '$want', got:"
    printf '%s\n' "$out" | head -5 | sed 's/^/    /'
  fi
}

ok op --help
grep -q -- "--inputs DIR" "$TMP/out" || fail "op --help does not describe --inputs"
ok op --list
for name in conv2d conv_transpose2d relu tanh bias_add concat_channels l1_loss mse_loss adam_step sum; do
  grep -q "^  $name " "$TMP/out" || fail "op --list does not list $name"
done
grep -q "naive, igemm, igemm-nosplit, igemm2" "$TMP/out" || fail "op --list does not name the conv variants"

# --check against cpu-ref on both backends, every output and gradient within tolerance.
for device in cpu cuda-emu; do
  ok op conv2d --shape 2,3,9,7,4,3,2,1 --device "$device" --check
  [ "$(grep -c ' ok ' "$TMP/out")" -eq 3 ] || { fail "conv2d --check on $device: not 3 ok lines"; cat "$TMP/out"; }
  ok op conv_transpose2d --shape 1,4,3,5,2,4,2,1 --device "$device" --check
  [ "$(grep -c ' ok ' "$TMP/out")" -eq 3 ] || { fail "conv_transpose2d --check on $device"; cat "$TMP/out"; }
  ok op relu --shape 1031 --device "$device" --check
  [ "$(grep -c ' ok ' "$TMP/out")" -eq 2 ] || { fail "relu --check on $device"; cat "$TMP/out"; }
done
ok op conv2d --shape 2,3,9,7,4,3,2,1 --device cuda-emu --variant naive --check
grep -q "conv variant naive" "$TMP/out" || fail "--variant naive was not used"
# A TF32 variant is checked against its own bound (4 x 2^-11 for winograd2-tf32), every output within it.
ok op conv2d --shape 1,8,6,6,8,3,1,1 --device cuda-emu --variant winograd2-tf32 --check
[ "$(grep -c ' 0.00195  ok ' "$TMP/out")" -eq 3 ] || { fail "conv2d --check under winograd2-tf32"; cat "$TMP/out"; }
ok op mse_loss --shape 2,2,9000,1 --device cuda-emu --reduce-variant tree --check
grep -q "reduce variant tree" "$TMP/out" || fail "--reduce-variant tree was not used"
[ "$(grep -c ' ok ' "$TMP/out")" -eq 2 ] || { fail "mse_loss --check with the tree reduction"; cat "$TMP/out"; }
# The cpu's implicit backward-data, forced, through both ops whose passes it runs (conv2d's dx, the
# transposed conv's y), against cpu-ref.
ok op conv2d --shape 2,5,9,7,6,4,2,1 --variant implicit --check
grep -q "conv variant implicit" "$TMP/out" && [ "$(grep -c ' ok ' "$TMP/out")" -eq 3 ] ||
  { fail "conv2d --variant implicit --check"; cat "$TMP/out"; }
ok op conv_transpose2d --shape 1,4,3,5,2,4,2,1 --variant implicit --check
[ "$(grep -c ' ok ' "$TMP/out")" -eq 3 ] || { fail "conv_transpose2d --variant implicit --check"; cat "$TMP/out"; }
ok op l1_loss --shape 2,2,37,1 --check --time --repeats 3
grep -q "GFLOP/s" "$TMP/out" || fail "--time printed no GFLOP/s"

# --dump, then --inputs from the dump: the same outputs, bit for bit (the .npy files are compared whole).
ok op conv2d --shape 2,3,9,7,4,3,2,1 --seed 5 --dump "$TMP/a"
ok op conv2d --shape 2,3,9,7,4,3,2,1 --inputs "$TMP/a" --dump "$TMP/b"
for f in x w dy y dx dw; do
  cmp -s "$TMP/a/$f.npy" "$TMP/b/$f.npy" || fail "round trip: $f.npy differs"
done
ok op conv2d --shape 2,3,9,7,4,3,2,1 --seed 6 --dump "$TMP/c"
cmp -s "$TMP/a/y.npy" "$TMP/c/y.npy" && fail "seeds 5 and 6 gave the same y: --seed has no effect"

# Errors: one line, exit 1, naming the culprit.
mkdir -p "$TMP/wrong" && cp "$TMP/a/"*.npy "$TMP/wrong/" && cp "$TMP/a/x.npy" "$TMP/wrong/w.npy"
refuse "wrong/w.npy has shape (2,3,9,7), but conv2d --shape 2,3,9,7,4,3,2,1 needs input 'w' of shape (4,3,3,3)" \
  op conv2d --shape 2,3,9,7,4,3,2,1 --inputs "$TMP/wrong"
cp "$TMP/a/w.npy" "$TMP/wrong/w.npy" && rm "$TMP/wrong/dy.npy"
refuse "dy.npy not found" op conv2d --shape 2,3,9,7,4,3,2,1 --inputs "$TMP/wrong"
refuse "unknown op 'conv3d' (valid: fill, copy" op conv3d --shape 1
refuse "unknown conv variant 'fast' (valid: naive, igemm, igemm-nosplit, igemm2, igemm3, igemm2w, winograd4, winograd2, winograd4-tf32, winograd2-tf32, winograd4-tf32x3)" \
  op conv2d --shape 1,1,3,3,1,3,1,1 --device cuda-emu --variant fast
refuse "unknown reduce variant 'atomic' (valid: block, tree, tree4)" \
  op sum --shape 5 --device cuda-emu --reduce-variant atomic
refuse "--reduce-variant tree: the cpu backend has one reduction kernel" op sum --shape 5 --reduce-variant tree
refuse "unknown cpu conv variant 'naive' (valid: auto, gemm" op conv2d --shape 1,1,3,3,1,3,1,1 --variant naive
refuse "--shape 1,2,3: conv2d: shape '1,2,3' has 3 values" op conv2d --shape 1,2,3
refuse "--shape 1,x: " op relu --shape 1,x
refuse "gives an empty output" op conv2d --shape 1,1,2,2,1,5,1,0
refuse "--shape is needed: relu takes --shape N" op relu
refuse "unknown device" op relu --shape 4 --device tpu

# A gradient by hand: dw of conv2d from the dumped x and dy, in double, in python without numpy.
ok op conv2d --shape 2,3,5,6,4,3,2,1 --seed 3 --dump "$TMP/g"
python3 - "$TMP/g" <<'PY' || fail "dw from --dump does not match the contract's formula computed in python"
import ast, struct, sys
def load(path):
    data = open(path, "rb").read()
    assert data[:6] == b"\x93NUMPY", path
    hlen = struct.unpack("<H", data[8:10])[0]
    header = ast.literal_eval(data[10:10 + hlen].decode("latin1"))
    assert header["descr"] == "<f4" and not header["fortran_order"], header
    shape = header["shape"]
    n = 1
    for s in shape: n *= s
    return shape, struct.unpack("<%df" % n, data[10 + hlen:10 + hlen + 4 * n])
d = sys.argv[1]
(N, C, H, W), x = load(d + "/x.npy")
(O, _, KH, KW), _ = load(d + "/w.npy")
(_, _, HO, WO), dy = load(d + "/dy.npy")
_, dw = load(d + "/dw.npy")
S, P = 2, 1
worst = 0.0
for o in range(O):
    for c in range(C):
        for p in range(KH):
            for q in range(KW):
                acc = 0.0
                for b in range(N):
                    for i in range(HO):
                        for j in range(WO):
                            h, w = i * S - P + p, j * S - P + q
                            if 0 <= h < H and 0 <= w < W:
                                acc += dy[((b * O + o) * HO + i) * WO + j] * x[((b * C + c) * H + h) * W + w]
                got = dw[((o * C + c) * KH + p) * KW + q]
                worst = max(worst, abs(got - acc))
print("dw worst abs difference against python:", worst)
sys.exit(0 if worst < 1e-5 else 1)
PY

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "op: all checks passed"
