#!/usr/bin/env bash
# tint bench at a tiny size: the table (a row per batch size, the speed-up of 8 over 1, the peer column
# saying skipped without an interpreter), the peer interleaved (a fake one, and tint as its own peer), the JSON (images/s = batch / step time, phases, speed-up), the
# profile (a table and one Chrome trace per batch size with a host lane of phases and a stream lane of ops
# named after their layers, forward and backward), the graph, and its errors (one line naming the flag).
# --profile and --dump-graph on train and colorize write the same kinds of file.
# Usage: bench.sh <tint binary> <source dir>
set -u
tint=$1; src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$src" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
small=(--size 16 --width 4 --levels 1 --steps 2 --warmup 1 --workers 1)

out=$("$tint" bench "${small[@]}" --batches 1,8 --peer "$work/no-such-python" --json "$work/b.json" \
      --profile "$work/trace.json" --dump-graph "$work/step.dot" 2>&1) || fail "bench failed: $out"
echo "$out" | grep -Eq '^ +1 +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +skipped +skipped$' \
  || fail "no batch-1 row with the peer skipped: $out"
echo "$out" | grep -Eq '^ +8 +[0-9.]+ ' || fail "no batch-8 row: $out"
echo "$out" | grep -q "^batch 8 over batch 1: [0-9.]*x the images per second" || fail "no speed-up line: $out"
echo "$out" | grep -q "peer: skipped: interpreter '$work/no-such-python' not found" || fail "peer not skipped clearly: $out"
echo "$out" | grep -q "conv2d_backward_weight *down.1.conv1 bwd" || fail "profile table lacks a backward row: $out"
python3 - "$work" <<'PY' || fail "JSON or trace"
import json, sys
w = sys.argv[1]
b = json.load(open(f"{w}/b.json"))
assert b["command"] == "tint bench" and b["size"] == 16 and b["device"] == "cpu", b
rows = {r["batch"]: r for r in b["results"]}
assert sorted(rows) == [1, 8], rows.keys()
for n, r in rows.items():
    assert r["step_ms"] > 0 and r["peak_bytes"] > 0, r
    assert abs(r["images_per_s"] - n * 1000.0 / r["step_ms"]) < 1e-3 * r["images_per_s"], r
    for k in ("data_wait_ms", "upload_ms", "forward_ms", "backward_ms", "optimiser_ms"):
        assert 0 <= r[k] <= r["step_ms"] * 1.5, (k, r)
    assert r["pytorch_ms"] is None and "not found" in r["peer"], r
    assert r["profiled_step_ms"] > 0, r
# batch 8 holds 8 images' activations: more memory than batch 1
assert rows[8]["peak_bytes"] > rows[1]["peak_bytes"], rows
want = rows[8]["images_per_s"] / rows[1]["images_per_s"]
assert abs(b["speedup_batch8_over_batch1"] - want) < 1e-3 * want, (b["speedup_batch8_over_batch1"], want)
for n in (1, 8):
    t = json.load(open(f"{w}/trace_b{n}.json"))
    ev = t["traceEvents"]
    lanes = {e["tid"]: e["args"]["name"] for e in ev if e.get("name") == "thread_name"}
    assert lanes == {1: "host", 2: "cpu stream"}, lanes
    host = {e["name"] for e in ev if e.get("ph") == "X" and e["tid"] == 1}
    for phase in ("data wait", "upload", "forward", "backward", "optimiser", "step 0", "step 1"):
        assert phase in host, (phase, host)
    ops = [e for e in ev if e.get("ph") == "X" and e["tid"] == 2]
    names = {e["name"] for e in ops}
    for name in ("down.0.conv1 conv2d_forward", "down.1.conv1 bwd conv2d_backward_data",
                 "up.0.upconv bwd conv2d_forward", "loss mse_loss_forward", "adam adam_step", "- copy_from_host"):
        assert name in names, (name, sorted(names))
    # every op of a step lies inside that step's slice on the host lane
    steps = sorted((e["ts"], e["ts"] + e["dur"]) for e in ev if e.get("cat") == "step")
    for e in ops:
        s = e["args"]["step"]
        assert steps[s][0] <= e["ts"] and e["ts"] + e["dur"] <= steps[s][1] + 1e-3, (e, steps[s])
PY
head -1 "$work/step.dot" | grep -q "^digraph" || fail "graph is not Graphviz"
grep -q "saved: x" "$work/step.dot" || fail "graph lacks saved tensors"
if command -v dot >/dev/null; then dot -Tsvg "$work/step.dot" -o /dev/null || fail "dot cannot parse the graph"; fi

# train and colorize write a trace too
"$tint" train --size 16 --width 4 --levels 1 --batch 4 --steps 2 --out "$work/run" --profile "$work/train.json" \
  > "$work/train.log" 2>&1 || fail "train --profile: $(cat "$work/train.log")"
grep -q "mse_loss_backward *loss bwd" "$work/train.log" || fail "train's profile table: $(cat "$work/train.log")"
"$tint" colorize data/samples/val/$(ls data/samples/val | head -1) --model "$work/run" -o "$work/col" \
  --profile "$work/col.json" > "$work/col.log" 2>&1 || fail "colorize --profile: $(cat "$work/col.log")"
grep -q "tanh_forward *head" "$work/col.log" || fail "colorize's profile table: $(cat "$work/col.log")"
python3 -c "import json,sys; [json.load(open(p)) for p in sys.argv[1:]]" "$work/train.json" "$work/col.json" \
  || fail "train or colorize trace is not JSON"

# --ab-variants: two variants alternated step by step, each pair a ratio; the JSON has every step of both
out=$("$tint" bench --size 16 --width 4 --levels 1 --warmup 1 --workers 1 --batches 1 --steps 4 --ab-variants gemm,auto --json "$work/ab.json" 2>&1) \
  || fail "bench --ab-variants failed: $out"
echo "$out" | grep -Eq '^batch 1: gemm [0-9.]+ ms, auto [0-9.]+ ms; gemm / auto per pair: median [0-9.]+ \(range [0-9.]+-[0-9.]+, 4 pairs\)$' \
  || fail "no A/B line: $out"
python3 - "$work" "$out" <<'PY' || fail "--ab-variants JSON"
import json, re, sys
r = json.load(open(f"{sys.argv[1]}/ab.json"))["results"][0]
assert r["ab_variants"] == ["gemm", "auto"], r
a, b = r["ab_a_step_ms"], r["ab_b_step_ms"]
assert len(a) == 4 and len(b) == 4 and min(a + b) > 0, r
# the table's row is variant A's steps
assert abs(r["step_ms"] - sorted(a)[len(a) // 2]) < 1e-3, (r["step_ms"], a)
# the printed ratio is A's time over B's, pair by pair
ratios = sorted(x / y for x, y in zip(a, b))
printed = float(re.search(r"per pair: median ([0-9.]+)", sys.argv[2]).group(1))
assert abs(printed - ratios[len(ratios) // 2]) < 2e-3, (printed, ratios)
PY

# --peer-mode interleaved (the default): the peer runs with --serve beside tint, one step per request; each pair
# of steps gives a ratio. A fake peer stands in for PyTorch (which CI lacks), speaking the same protocol; it
# logs each request with its time, and so does the pair order below.
cat > "$work/fake_peer.py" <<'PY'
import json, sys, time
args = sys.argv[1:]
log = open(sys.argv[0] + ".log", "a")
fail_after = int(open(sys.argv[0] + ".fail").read()) if len(open(sys.argv[0] + ".fail").read()) else -1
def one():
    time.sleep(0.004)
    return 7.5
if "--serve" not in args:  # sequential: time its own steps, one JSON line
    print(json.dumps({"ms_median": 7.5, "torch": "fake", "device": "cpu (fake)", "setting": "fake"}))
    sys.exit(0)
print("ready fake", flush=True)
served = []
for line in sys.stdin:
    if line.strip() == "step":
        if len(served) == fail_after:
            print("fake peer: giving up", file=sys.stderr)
            sys.exit(5)
        log.write(f"step {time.monotonic()}\n"); log.flush()
        served.append(one() + len(served))
        print(f"{served[-1]:.4f} 1 2 3", flush=True)
    elif line.strip() == "end":
        break
s = sorted(served)
print(json.dumps({"ms_median": s[len(s) // 2], "torch": "fake", "device": "cpu (fake)", "setting": "fake"}))
PY
: > "$work/fake_peer.py.fail"
fake=(--peer python3 --peer-script "$work/fake_peer.py")
four=(--size 16 --width 4 --levels 1 --steps 4 --warmup 1 --workers 1)
out=$("$tint" bench "${four[@]}" --batches 1 "${fake[@]}" --json "$work/pairs.json" 2>&1) \
  || fail "bench with the fake peer failed: $out"
echo "$out" | grep -Eq '^batch 1: pytorch / tint per pair, interleaved: median [0-9.]+ \(range [0-9.]+-[0-9.]+, 4 pairs\)$' \
  || fail "no per-pair line: $out"
echo "$out" | grep -q "^peer: torch fake, cpu (fake), setting fake$" || fail "peer note: $out"
[ "$(grep -c '^step' "$work/fake_peer.py.log")" -eq 4 ] || fail "the peer served $(grep -c '^step' "$work/fake_peer.py.log") steps, not 4"
python3 - "$work" "$out" <<'PY' || fail "interleaved peer JSON"
import json, re, sys
r = json.load(open(f"{sys.argv[1]}/pairs.json"))["results"][0]
assert r["peer_mode"] == "interleaved", r
p, t = r["pair_pytorch_ms"], r["pair_tint_ms"]
# the peer's own step times, in the order it served them (the fake adds 1 ms per step)
assert p == [7.5, 8.5, 9.5, 10.5], p
# tint's side of the pairs is its timed steps
assert len(t) == 4 and abs(r["step_ms"] - sorted(t)[2]) < 1e-3, (r["step_ms"], t)
ratios = sorted(x / y for x, y in zip(p, t))
assert abs(r["pytorch_over_tint"] - ratios[2]) < 1e-3 * ratios[2], (r["pytorch_over_tint"], ratios)
printed = float(re.search(r"interleaved: median ([0-9.]+)", sys.argv[2]).group(1))
assert abs(printed - ratios[2]) < 1e-3 * ratios[2], (printed, ratios)
assert r["pytorch_ms"] == 9.5, r  # the median of the steps it served
PY
# sequential: the peer's own median over tint's
out=$("$tint" bench "${small[@]}" --batches 1 "${fake[@]}" --peer-mode sequential --json "$work/seq.json" 2>&1) \
  || fail "bench --peer-mode sequential failed: $out"
echo "$out" | grep -q "per pair" && fail "sequential printed pairs: $out"
python3 -c "
import json, sys
r = json.load(open(sys.argv[1]))['results'][0]
assert r['peer_mode'] == 'sequential' and abs(r['pytorch_over_tint'] - 7.5 / r['step_ms']) < 1e-3 * r['pytorch_over_tint'], r
" "$work/seq.json" || fail "sequential JSON"
# a peer that stops after two steps: skipped, with its own last words; tint's steps still count
echo 2 > "$work/fake_peer.py.fail"
out=$("$tint" bench "${four[@]}" --batches 1 "${fake[@]}" 2>&1) || fail "bench with a failing peer failed: $out"
echo "$out" | grep -q "^peer: skipped: the peer failed (exit 5): fake peer: giving up$" || fail "failing peer: $out"
echo "$out" | grep -Eq '^ +1 +[0-9.]+ .* +skipped +skipped$' || fail "no row with the peer skipped: $out"
out=$("$tint" bench "${small[@]}" --batches 1 --peer "$work/no-such-python" --peer-mode interleaved 2>&1) || fail "$out"
echo "$out" | grep -q "peer: skipped: interpreter '$work/no-such-python' not found" || fail "missing interpreter, interleaved: $out"

# --serve: tint as a peer. The protocol by hand (ready, one line per step, the JSON at the end), then this
# same binary as its own peer through benchmarks/peers/tint_peer.sh, named by --peer-name.
out=$(printf 'step\nstep\nend\n' | "$tint" bench "${small[@]}" --batches 1 --serve 2>"$work/serve.err") \
  || fail "bench --serve failed: $out $(cat "$work/serve.err")"
[ "$(echo "$out" | head -1)" = "ready tint" ] || fail "--serve's first line: $out"
[ "$(echo "$out" | grep -cE '^[0-9.]+ [0-9.]+ [0-9.]+ [0-9.]+$')" -eq 2 ] || fail "--serve's step lines: $out"
echo "$out" | tail -1 | python3 -c "
import json, sys
j = json.loads(sys.stdin.read())
assert j['peer'] == 'tint' and j['repeats'] == 2 and j['served'] and j['ms_median'] > 0, j
assert j['setting'] == 'conv variant auto', j
" || fail "--serve's JSON: $out"
grep -q "^tint bench: U-Net" "$work/serve.err" || fail "--serve's header belongs on stderr: $(cat "$work/serve.err")"
out=$(printf 'stop\n' | "$tint" bench "${small[@]}" --batches 1 --serve 2>&1) && fail "--serve took a bad request: $out"
echo "$out" | grep -q "unknown request 'stop'" || fail "--serve's bad request: $out"
out=$(TINT_PEER="$tint" "$tint" bench "${four[@]}" --batches 1 --peer bash --peer-script benchmarks/peers/tint_peer.sh \
      --peer-name self --json "$work/self.json" 2>&1) || fail "tint as its own peer failed: $out"
echo "$out" | grep -Eq '^batch 1: self / tint per pair, interleaved: median [0-9.]+ \(range [0-9.]+-[0-9.]+, 4 pairs\)$' \
  || fail "no per-pair line for the tint peer: $out"
echo "$out" | grep -q "self ms *self/tint" || fail "the table does not name the peer: $out"
echo "$out" | grep -q "^peer: tint, cpu ([0-9]* threads), setting conv variant auto$" || fail "tint peer's note: $out"
python3 -c "
import json, sys
r = json.load(open(sys.argv[1]))['results'][0]
assert r['peer']['peer'] == 'tint' and r['peer']['repeats'] == 4 and len(r['pair_pytorch_ms']) == 4, r
" "$work/self.json" || fail "tint peer's JSON"
out=$(TINT_PEER="$tint" "$tint" bench "${small[@]}" --batches 1 --peer bash --peer-script benchmarks/peers/tint_peer.sh \
      --peer-mode sequential 2>&1) || fail "$out"
echo "$out" | grep -q "peer: skipped: the peer failed (exit 2): tint_peer.sh: a tint peer runs only interleaved" \
  || fail "tint peer, sequential: $out"

# --graph on cuda-emu (whose stream capture records and replays): the same losses, bit for bit, as the steps
# op by op, from the second step (the capture) on; the header and the JSON say which ran.
emu=(--device cuda-emu --size 16 --width 4 --levels 1 --workers 1)
for g in on off; do
  out=$("$tint" bench "${emu[@]}" --batches 1,2 --steps 3 --warmup 2 --graph $g --json "$work/graph_$g.json" 2>&1) || fail "bench --graph $g: $out"
  if [ $g = on ]; then
    echo "$out" | grep -q "; CUDA graphs (captured at step 2)$" || fail "graph header: $out"
    echo "$out" | grep -Eq "^batch 2: CUDA graphs captured at step 2: forward \+ loss [0-9]+ nodes, backward [0-9]+ " \
      || fail "graph node line: $out"
  else
    echo "$out" | grep -q "CUDA graphs" && fail "graphs named with --graph off: $out"
  fi
done
# By default on cuda-emu, captured at step 1 without warm-up; the profiled steps after the timed ones run op by
# op, their gradients overwritten anew (so their losses go on where the replays' left off)
out=$("$tint" bench "${emu[@]}" --batches 1 --steps 2 --warmup 0 --profile "$work/gp.json" 2>&1) \
  || fail "bench --warmup 0 --profile: $out"
echo "$out" | grep -q "CUDA graphs (captured at step 1)" || fail "graphs by default on cuda-emu, at step 1: $out"
echo "$out" | grep -q "^-- batch 1: 2 profiled steps, op by op (no graphs)$" || fail "profiled op by op: $out"
echo "$out" | grep -q "conv2d_backward_weight *down.1.conv1 bwd" || fail "graph run's profile table: $out"
python3 - "$work" <<'PY' || fail "graph losses"
import json, sys
w = sys.argv[1]
on, off = (json.load(open(f"{w}/graph_{g}.json")) for g in ("on", "off"))
assert on["graph"] is True and off["graph"] is False, (on["graph"], off["graph"])
for r in on["results"]:
    f, b = r["graph_nodes"]
    # levels 1: 7 convs (a transposed one), biases, ReLUs, concat, tanh, loss; the backward has more
    assert 10 <= f < b < 200, r["graph_nodes"]
assert all(r["graph_nodes"] is None for r in off["results"]), off["results"]
for a, b in zip(on["results"], off["results"]):
    assert len(a["losses"]) == 3 and a["losses"] == b["losses"], (a["batch"], a["losses"], b["losses"])
    assert len(set(a["losses"])) == 3, a["losses"]  # new data and new weights each step
PY
out=$("$tint" bench "${small[@]}" --batches 1 --json "$work/cpu.json" 2>&1) || fail "$out"
echo "$out" | grep -q "CUDA graphs" && fail "graphs on the cpu: $out"

# errors: one line naming the flag, exit 1
expect_error() {  # pattern, args...
  local pattern=$1; shift
  local o; o=$("$tint" bench "$@" 2>&1) && fail "accepted: $*"
  [ "$(echo "$o" | wc -l)" -eq 1 ] || fail "not one line for $*: $o"
  echo "$o" | grep -q -- "$pattern" || fail "unclear for $*: $o"
}
expect_error "--batches" --batches 1,0
expect_error "--batches" --batches 1,x
expect_error "--steps" --steps 0
expect_error "--size" --size 20 --levels 3
expect_error "--profile" "${small[@]}" --profile /nonexistent-dir/t.json
expect_error "--data" --data "$work/nothing-here"
expect_error "--batches: batch 64 is larger" "${small[@]}" --batches 64
expect_error "unknown" --bogus 1
expect_error "--ab-variants 'gemm': expected two variants" "${small[@]}" --ab-variants gemm
expect_error "unknown cpu conv variant 'nope'" "${small[@]}" --ab-variants gemm,nope
expect_error "give one or the other" "${small[@]}" --ab-variants gemm,auto --conv-variant gemm
expect_error "--ab-variants times two variants" "${small[@]}" --ab-variants gemm,auto --profile "$work/p.json"
expect_error "--peer-mode fast: expected interleaved or sequential" "${small[@]}" --peer-mode fast
expect_error "--serve: one batch size" "${small[@]}" --batches 1,8 --serve
expect_error "--serve answers requests on stdin" "${small[@]}" --batches 1 --serve --peer python3
expect_error "--peer-name 'a b': one word" "${small[@]}" --peer-name "a b"
expect_error "--peer-script '$work/none.py': no such file" "${small[@]}" --peer python3 --peer-script "$work/none.py"
expect_error "--graph on: device 'cpu' cannot capture graphs" "${small[@]}" --graph on
expect_error "--graph maybe: expected on or off" "${small[@]}" --graph maybe
expect_error "--graph on: --ab-variants switches variants step by step" "${emu[@]}" --graph on \
  --ab-variants igemm2,naive
"$tint" bench --help | grep -q "^usage: tint bench" || fail "--help"
echo "bench: ok"
