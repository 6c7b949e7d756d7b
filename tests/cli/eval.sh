#!/usr/bin/env bash
# End to end: `tint eval` on a tiny model trained here scores the embedded validation photos, writes its report,
# JSON and figures with the same numbers in both, skips and counts grey photos, compares two runs in one table,
# and rejects bad input with one line naming the culprit.
# Usage: eval.sh <tint binary> <source dir>
set -u
tint=$1; src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$src" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }

for run in run run2; do
  seed=0; [ $run = run2 ] && seed=1
  out=$("$tint" train --size 32 --width 8 --levels 2 --steps 2 --epochs 1 --seed $seed --out "$work/$run" 2>&1) \
    || fail "training $run failed: $out"
done

# One model, the size from its metadata (32), the default output folder RUN/eval-<data folder>.
out=$("$tint" eval --model "$work/run" --data data/samples/val --train-mean 2.5,9 --examples 3 2>&1) || fail "eval failed: $out"
echo "$out"
dir="$work/run/eval-val"
echo "$out" | grep -q "$dir" || fail "eval does not say where it wrote"
for f in report.md eval.json histograms.svg examples.png; do [ -s "$dir/$f" ] || fail "missing $dir/$f"; done

# The report's table and the JSON hold the same numbers (to the report's rounding), and the protocol is stated.
python3 - "$dir" <<'PY' || fail "report and JSON disagree"
import json, math, re, sys
d = sys.argv[1]
j = json.load(open(d + "/eval.json"))
md = open(d + "/report.md").read()
assert j["size"] == 32 and j["fit"] == "pad" and j["masked"] is True, j
assert j["files"] == 8 and j["images"] == 8 and j["grey_skipped"] == 0 and j["unreadable"] == 0, j
assert j["train_mean_ab"] == [2.5, 9], j["train_mean_ab"]
assert "**8 images scored**" in md and "padded to 32x32" in md and "real pixels only" in md, md
rows = {r["name"]: r for r in j["rows"]}
assert [r["kind"] for r in j["rows"]] == ["model", "baseline", "baseline"], j["rows"]
assert "run" in rows and "grey (a = b = 0)" in rows and "train mean ab (2.50, 9.00)" in rows, rows.keys()
cols = [("hi_a", 4), ("hi_b", 4), ("hi_mean", 4), ("auc", 4), ("auc_rebalanced", 4), ("psnr_db", 2), ("colourfulness", 2)]
table = [l for l in md.split("## Metrics")[1].splitlines() if l.startswith("| ") and not l.startswith(("| model", "| ---"))]
seen = set()
for line in table:
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    name = cells[0]
    if name == "truth":
        assert abs(float(cells[7]) - j["truth_colourfulness"]) <= 0.005 + 1e-9, (cells, j["truth_colourfulness"])
        seen.add(name)
        continue
    r = rows[name]
    for (key, decimals), cell in zip(cols, cells[1:]):
        v = r[key]
        if v == "inf":
            assert cell == "inf", (name, key, cell)
        else:
            assert abs(float(cell) - v) <= 0.5 * 10 ** -decimals + 1e-9, (name, key, cell, v)
    seen.add(name)
assert seen == set(rows) | {"truth"}, seen
for r in j["rows"]:
    for k in ("hi_a", "hi_b", "auc", "auc_rebalanced"):
        assert 0 <= r[k] <= 1, (r["name"], k, r[k])
    assert abs(r["hi_mean"] - (r["hi_a"] + r["hi_b"]) / 2) < 1e-12
    assert r["psnr_db"] == "inf" or r["psnr_db"] > 0
# The grey baseline predicts a = b = 0 everywhere: colourless and all its mass in bin 0 of the histograms.
g = rows["grey (a = b = 0)"]
assert g["colourfulness"] < 1.0, g
assert j["truth_colourfulness"] > 5, j["truth_colourfulness"]
assert "histograms.svg" in md and "examples.png" in md
svg = open(d + "/histograms.svg").read()
for name in ("truth", "prediction", "grey baseline", "train mean baseline"):
    assert svg.count('data-name="%s"' % name) == 2, name
assert svg.count("<svg") == 1 and svg.rstrip().endswith("</svg>")
PY
[ "$(head -c 8 "$dir/examples.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || fail "examples.png is not a PNG"

# Without --train-mean, the model file's mean_ab (written by tint train) gives the mean baseline.
mean=$(python3 tests/cli/safetensors_tool.py meta "$work/run/model.safetensors" mean_ab) || fail "the model has no mean_ab"
out=$("$tint" eval --model "$work/run" --data data/samples/val --out "$work/e1" --examples 0 2>&1) || fail "eval failed: $out"
python3 - "$work/e1/eval.json" "$mean" <<'PY' || fail "the model's mean_ab was not used"
import json, sys
j = json.load(open(sys.argv[1]))
want = [float(v) for v in sys.argv[2].split(",")]
assert j["train_mean_ab"] is not None and all(abs(a - b) < 1e-4 for a, b in zip(j["train_mean_ab"], want)), j["train_mean_ab"]
assert len(j["rows"]) == 3, [r["name"] for r in j["rows"]]
PY
# Without either (a model file without mean_ab) the mean baseline is left out, with a note; --json.
python3 tests/cli/safetensors_tool.py edit "$work/run/model.safetensors" "$work/nomean.safetensors" unmeta:mean_ab
out=$("$tint" eval --model "$work/nomean.safetensors" --data data/samples/val --out "$work/e2" --json "$work/e2.json" \
  --examples 0 2>&1) || fail "eval without a train mean failed: $out"
[ -s "$work/e2.json" ] && [ ! -e "$work/e2/eval.json" ] || fail "--json not honoured"
[ ! -e "$work/e2/examples.png" ] || fail "--examples 0 still wrote examples.png"
grep -q "mean-ab baseline is left out" "$work/e2/report.md" || fail "no note about the missing mean baseline"
python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert len(j['rows'])==2 and j['train_mean_ab'] is None" \
  "$work/e2.json" || fail "rows without a train mean"

# A folder with a grey photo and an unreadable file: the grey one is skipped and counted, not scored.
mkdir -p "$work/mixed"
cp data/samples/val/krank_level-25.jpg data/samples/val/dlib_2008_007676.jpg "$work/mixed/"
: > "$work/mixed/empty.jpg"
python3 - "$work/mixed/grey.bmp" <<'PY'
import struct, sys
w, h = 40, 30
row = bytearray()
rows = []
for y in range(h):
    r = bytearray()
    for x in range(w):
        v = (x * 6 + y * 2) % 256
        r += bytes((v, v, v))
    r += b"\0" * ((4 - len(r) % 4) % 4)
    rows.append(bytes(r))
pixels = b"".join(reversed(rows))
header = struct.pack("<2sIHHI", b"BM", 54 + len(pixels), 0, 0, 54)
info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
open(sys.argv[1], "wb").write(header + info + pixels)
PY
out=$("$tint" eval --model "$work/run" --data "$work/mixed" --out "$work/e3" 2>&1) || fail "eval on a mixed folder failed: $out"
echo "$out" | grep -q "empty.jpg" || fail "the unreadable file was not named: $out"
python3 -c "
import json,sys
j=json.load(open(sys.argv[1]))
assert (j['files'], j['images'], j['grey_skipped'], j['unreadable']) == (4, 2, 1, 1), j" "$work/e3/eval.json" \
  || fail "grey/unreadable counts wrong"
grep -q "1 grey photos skipped" "$work/e3/report.md" || fail "the report does not count the grey photo"

# Two runs compared in one table, each with its histograms.
out=$("$tint" eval --compare "$work/run" "$work/run2" --data data/samples/val --out "$work/cmp" 2>&1) \
  || fail "--compare failed: $out"
for f in report.md eval.json histograms-run.svg histograms-run2.svg examples.png; do
  [ -s "$work/cmp/$f" ] || fail "--compare did not write $f"
done
python3 -c "
import json,sys
j=json.load(open(sys.argv[1]))
names=[r['name'] for r in j['rows']]
assert names[:3]==['run','run2','grey (a = b = 0)'], names
assert [m['name'] for m in j['models']]==['run','run2']
assert j['rows'][0]['hi_a']!=j['rows'][1]['hi_a'] or j['rows'][0]['auc']!=j['rows'][1]['auc'], 'two different models scored the same'
" "$work/cmp/eval.json" || fail "--compare table wrong"
grep -q "^| run2 |" "$work/cmp/report.md" || fail "run2 missing from the compare report"

# Bad input: exit 1 and one line naming the culprit.
expect_error() {  # expect_error <text the message must contain> <args...>
  local want=$1; shift
  local msg rc
  msg=$("$tint" eval "$@" 2>&1 >/dev/null); rc=$?
  [ $rc -eq 1 ] || fail "'tint eval $*' exited $rc (want 1): $msg"
  [ "$(echo "$msg" | wc -l)" -eq 1 ] || fail "'tint eval $*' printed more than one line: $msg"
  echo "$msg" | grep -qF -- "$want" || fail "'tint eval $*' does not name '$want': $msg"
}
expect_error "$work/nothing" --model "$work/nothing" --data data/samples/val
mkdir -p "$work/empty"
expect_error "$work/empty" --model "$work/run" --data "$work/empty"
expect_error "--train-mean" --model "$work/run" --data data/samples/val --train-mean 3
expect_error "--examples" --model "$work/run" --data data/samples/val --examples -1
expect_error "--size" --model "$work/run" --data data/samples/val --size 30
expect_error "--data" --model "$work/run"
expect_error "--model" --data data/samples/val
expect_error "--bogus" --model "$work/run" --data data/samples/val --bogus 1
mkdir -p "$work/greyonly"; cp "$work/mixed/grey.bmp" "$work/greyonly/"
expect_error "no colour photo" --model "$work/run" --data "$work/greyonly"
"$tint" eval --help | grep -q "usage: tint eval" || fail "no --help"
echo "PASS"
