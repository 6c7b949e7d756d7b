#!/usr/bin/env bash
# Colour hints end to end: `tint train --hints` writes a 4-channel model that says so; colorize takes hints as
# JSON points or as a PNG of strokes, and they change the picture; eval --hints writes the PSNR sweep; a run
# with hints resumes bit-exactly; hints that cannot apply are refused with one line naming them.
# Usage: hints.sh <tint binary> <source dir>
set -u
tint=$1; src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$src" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
st() { python3 tests/cli/safetensors_tool.py "$@"; }
common=(--hints --size 32 --width 4 --levels 2 --batch 6 --lr 2e-3 --epochs 2 --seed 4)
photo=data/samples/val/krank_level-25.jpg

out=$("$tint" train "${common[@]}" --out "$work/full" 2>&1) || fail "training failed: $out"
[ "$(st meta "$work/full/model.safetensors" in_channels)" = 4 ] || fail "model metadata in_channels is not 4"
python3 - "$work/full/model.safetensors" <<'PY' || fail "the first convolution does not take 4 channels"
import json, struct, sys
raw = open(sys.argv[1], "rb").read(); (n,) = struct.unpack("<Q", raw[:8]); h = json.loads(raw[8:8 + n])
assert h["down.0.conv1.weight"]["shape"] == [4, 4, 3, 3], h["down.0.conv1.weight"]
PY

# Resume: the simulated hints are a function of (seed, epoch, sample), so a stopped run ends where the whole one did.
"$tint" train "${common[@]}" --steps 3 --workers 2 --out "$work/half" >/dev/null 2>&1 || fail "first half"
"$tint" train --resume "$work/half" --workers 1 >/dev/null 2>&1 || fail "resume"
st same "$work/full/checkpoint.safetensors" "$work/half/checkpoint.safetensors" || fail "resumed weights differ"

# colorize: no hints (the automatic mode), JSON points, a PNG stroke.
"$tint" colorize --model "$work/full" "$photo" -o "$work/none" >/dev/null 2>&1 || fail "colorize without hints"
cat > "$work/hints.json" <<'JSON'
[{"x": 100, "y": 80, "radius": 30, "colour": "#ff0000"}, {"x": 200, "y": 150, "lab": [50, -60, 60], "radius": 25}]
JSON
out=$("$tint" colorize --model "$work/full" --hints "$work/hints.json" "$photo" -o "$work/json" 2>&1) || fail "colorize --hints JSON: $out"
cmp -s "$work/none/krank_level-25.png" "$work/json/krank_level-25.png" && fail "JSON hints did not change the picture"
python3 - "$photo" "$work/stroke.png" <<'PY' || fail "could not write the stroke PNG"
import struct, sys, zlib
# The photo's size from its JPEG header (SOF0/SOF2), then an RGBA PNG with one opaque blue square.
data = open(sys.argv[1], "rb").read(); i = 2
while True:
    marker, length = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
    if marker in (0xC0, 0xC2):
        h, w = struct.unpack(">HH", data[i + 5:i + 9]); break
    i += 2 + length
rows = b""
for y in range(h):
    row = bytearray(4 * w)
    if 40 <= y < 90:
        for x in range(60, 140): row[4 * x:4 * x + 4] = bytes([0, 0, 255, 255])
    rows += b"\0" + bytes(row)
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
open(sys.argv[2], "wb").write(png)
PY
out=$("$tint" colorize --model "$work/full" --hints "$work/stroke.png" "$photo" -o "$work/png" 2>&1) || fail "colorize --hints PNG: $out"
cmp -s "$work/none/krank_level-25.png" "$work/png/krank_level-25.png" && fail "PNG hints did not change the picture"

# eval --hints: the sweep in the report, the JSON and a plot.
out=$("$tint" eval --model "$work/full" --data data/samples/val --hints 0,1,5,20 --examples 0 --out "$work/ev" 2>&1) \
  || fail "eval --hints failed: $out"
[ -s "$work/ev/hints-psnr.svg" ] || fail "no hints-psnr.svg"
grep -q "## PSNR against the number of hints" "$work/ev/report.md" || fail "no hints table in the report"
python3 - "$work/ev/eval.json" <<'PY' || fail "the JSON's hints entry is wrong"
import json, sys
j = json.load(open(sys.argv[1]))
h = j["hints"]
assert len(h) == 1 and h[0]["name"] == "full" and h[0]["points"] == [0, 1, 5, 20], h
assert all(isinstance(v, float) for v in h[0]["psnr_db"]), h
# With no hints the sweep's first column is the main table's model row (same input, same points).
row = [r for r in j["rows"] if r["name"] == "full"][0]
assert abs(row["psnr_db"] - h[0]["psnr_db"][0]) < 1e-9, (row["psnr_db"], h[0]["psnr_db"][0])
PY

# Refusals, each one line naming what is wrong.
"$tint" train --size 32 --width 4 --levels 2 --steps 1 --out "$work/plain" >/dev/null 2>&1 || fail "plain run"
out=$("$tint" colorize --model "$work/plain" --hints "$work/hints.json" "$photo" -o "$work/x" 2>&1) && fail "hints to a plain model accepted"
[ "$(echo "$out" | wc -l)" = 1 ] && echo "$out" | grep -q -- "--hints: the model .* was trained without hints" || fail "unclear error: $out"
echo '[{"x": 1, "y": 2, "colour": "red"}]' > "$work/bad.json"
out=$("$tint" colorize --model "$work/full" --hints "$work/bad.json" "$photo" -o "$work/x" 2>&1) && fail "a bad colour accepted"
echo "$out" | grep -q "bad.json': point 0: colour 'red'" || fail "unclear bad-colour error: $out"
out=$("$tint" colorize --model "$work/full" --hints "$work/stroke.png" data/samples/val/dlib_2008_007676.jpg -o "$work/x" 2>&1) \
  && fail "a hint PNG of another size accepted"
echo "$out" | grep -q "a hint PNG must be the photo's size" || fail "unclear PNG size error: $out"
out=$("$tint" eval --model "$work/plain" --data data/samples/val --hints 0,1 --out "$work/x" 2>&1) && fail "eval --hints on a plain model accepted"
echo "$out" | grep -q -- "--hints: none of the models was trained with hints" || fail "unclear eval --hints error: $out"
out=$("$tint" eval --model "$work/full" --data data/samples/val --hints 0,x --out "$work/x" 2>&1) && fail "eval --hints 0,x accepted"
echo "$out" | grep -q -- "--hints expects counts" || fail "unclear eval --hints list error: $out"
out=$("$tint" train --resume "$work/plain" --hints --steps 3 2>&1) && fail "--hints on a resumed plain run accepted"
echo "$out" | grep -q -- "--hints contradicts" || fail "unclear resume --hints error: $out"
echo "PASS"
