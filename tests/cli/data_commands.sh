#!/usr/bin/env bash
# `tint data ...` end to end, offline: help texts, stats on the embedded sample and on a bad-input corpus,
# clear errors, fetch's quick path and its message when apt-get is missing.
# usage: bash data_commands.sh <tint-binary> <source-dir>; exit 0 pass, 1 fail, 77 skip.
set -u
TINT=$(realpath "$1")
SRC=$2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

out=$("$TINT" data --help 2>&1) || true
if echo "$out" | grep -q "no data commands"; then echo "skip: this tint has no data commands"; exit 77; fi
echo "$out" | grep -q "fetch DIR" || fail "tint data --help: $out"
"$TINT" data fetch --help | grep -q "MANIFEST.sha256" || fail "tint data fetch --help"
"$TINT" data stats --help | grep -q "usage: tint data stats" || fail "tint data stats --help"

# The embedded sample: 40 photos, all usable.
out=$("$TINT" data stats "$SRC/data/samples" 2>&1) || fail "stats on the sample: $out"
echo "$out" | grep -q "40 files" || fail "sample count: $out"
echo "$out" | grep -Eq "usable +40 " || fail "sample usable: $out"
echo "$out" | grep -q "train" || fail "sample folders: $out"

# A corpus with bad files: each listed with its reason, the run still succeeds.
mkdir -p "$TMP/mixed"
cp "$SRC/data/samples/train/krank_level-01.jpg" "$TMP/mixed/good.jpg"
: > "$TMP/mixed/zero.jpg"
echo "not a photo" > "$TMP/mixed/text.jpg"
head -c 3000 "$SRC/data/samples/train/krank_level-02.jpg" > "$TMP/mixed/truncated.jpg"
out=$("$TINT" data stats "$TMP/mixed" 2>&1) || fail "stats on a mixed set: $out"
echo "$out" | grep -Eq "usable +1 " || fail "mixed usable: $out"
echo "$out" | grep -q "zero.jpg: zero-byte" || fail "zero-byte not reported: $out"
echo "$out" | grep -q "text.jpg: not an image" || fail "text file not reported: $out"
echo "$out" | grep -q "truncated.jpg: corrupt or truncated" || fail "truncated file not reported: $out"

# Nothing usable, nothing there, unknown commands: errors that name the culprit.
rm "$TMP/mixed/good.jpg"
out=$("$TINT" data stats "$TMP/mixed" 2>&1) && fail "all-bad set should fail: $out"
echo "$out" | grep -q "no usable image" || fail "all-bad message: $out"
out=$("$TINT" data stats "$TMP/nowhere" 2>&1) && fail "missing folder should fail"
echo "$out" | grep -q "nowhere" || fail "missing folder message: $out"
"$TINT" data frobnicate >/dev/null 2>&1 && fail "unknown subcommand should fail"
out=$("$TINT" data stats "$TMP/mixed" --bogus 2>&1) && fail "unknown option should fail"
echo "$out" | grep -q -- "--bogus" || fail "unknown option message: $out"

# fetch without apt-get says what is missing and what to do instead.
out=$(env PATH=/nonexistent "$TINT" data fetch "$TMP/fetched" --cache "$TMP/cache" 2>&1) && fail "fetch without apt-get should fail"
echo "$out" | grep -q "apt-get" || fail "fetch without apt-get: $out"

# fetch's quick path: a complete manifest means nothing to do (no network needed).
mkdir -p "$TMP/done/train/x" "$TMP/done/val/y"
cp "$SRC/data/samples/train/krank_level-01.jpg" "$TMP/done/train/x/a.jpg"
cp "$SRC/data/samples/val/krank_level-25.jpg" "$TMP/done/val/y/b.jpg"
(cd "$TMP/done" && sha256sum train/x/a.jpg val/y/b.jpg > MANIFEST.sha256)
out=$("$TINT" data fetch "$TMP/done" --cache "$TMP/cache" 2>&1) || fail "fetch quick path: $out"
echo "$out" | grep -q "already present: 1 training and 1 validation" || fail "fetch quick path message: $out"
echo "pass"
