#!/usr/bin/env bash
# --dump-batches writes, for a parity script, the initial weights, the exact tensors of every step, the
# losses with 9 significant digits and the final weights; they agree with the run's own checkpoints.
# Usage: train_dump.sh <tint binary> <source dir>
set -u
tint=$1; src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$src" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
st() { python3 tests/cli/safetensors_tool.py "$@"; }
small=(--size 32 --width 4 --levels 2 --batch 4 --fit crop)

"$tint" train "${small[@]}" --steps 2 --out "$work/run" >/dev/null 2>&1 || fail "first part"
out=$("$tint" train --resume "$work/run" --steps 5 --no-mask --dump-batches "$work/d" 2>&1) && fail "--no-mask on a masked run accepted"
echo "$out" | grep -q "\-\-no-mask contradicts" || fail "unclear: $out"
"$tint" train --resume "$work/run" --steps 5 --dump-batches "$work/d" >/dev/null 2>&1 || fail "resumed part"
# init = the weights the resumed run started from; final = its checkpoint's weights.
st same "$work/d/init.safetensors" "$work/run/model.safetensors" && fail "init equals the final weights"
st same "$work/d/final.safetensors" "$work/run/model.safetensors" || fail "final.safetensors is not the run's weights"
st same "$work/d/final.safetensors" "$work/run/checkpoint.safetensors" down. up. head. \
  || fail "final.safetensors is not the checkpoint's weights"
for s in 3 4 5; do for t in L ab mask; do [ -s "$work/d/step_00000${s}_$t.npy" ] || fail "missing step $s $t"; done; done
[ -e "$work/d/step_000002_L.npy" ] && fail "steps before the resume were dumped"
python3 - "$work/d" <<'PY' || fail "dumped tensors"
import ast, struct, sys
d = sys.argv[1]
def npy(path):
    raw = open(path, "rb").read()
    assert raw[:6] == b"\x93NUMPY", path
    n = struct.unpack("<H", raw[8:10])[0]
    head = ast.literal_eval(raw[10:10 + n].decode())
    assert head["descr"] == "<f4", head
    vals = struct.unpack("<%df" % (len(raw[10 + n:]) // 4), raw[10 + n:])
    return head["shape"], vals
for s in (3, 4, 5):
    shape, L = npy(f"{d}/step_{s:06d}_L.npy")
    assert shape == (4, 1, 32, 32), shape
    assert npy(f"{d}/step_{s:06d}_ab.npy")[0] == (4, 2, 32, 32)
    mshape, m = npy(f"{d}/step_{s:06d}_mask.npy")
    assert mshape == shape and set(m) <= {0.0, 1.0}
    assert all(-1.0001 <= v <= 1.0001 for v in L)
    # scaled L of a real pixel is L/50 - 1; padding is black (-1) with mask 0
    assert all(v == -1.0 for v, k in zip(L, m) if k == 0.0)
rows = open(f"{d}/losses.csv").read().split()
assert rows[0] == "step,loss" and [r.split(",")[0] for r in rows[1:]] == ["3", "4", "5"], rows
for r in rows[1:]:
    digits = r.split(",")[1].replace(".", "").replace("e", " ").split()[0].lstrip("0")
    assert len(digits) == 9 or len(digits.rstrip("0")) <= 9, r
    assert 0 < float(r.split(",")[1]) < 1, r
PY
echo "PASS"
