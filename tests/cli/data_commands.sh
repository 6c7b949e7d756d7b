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

# A hostile tree: a link loop, a second loop, a FIFO, a dangling link, a link to a file and a 5 GB sparse
# file. The scan must end (no hang), count each real image once and report the rest with reasons.
mkdir -p "$TMP/hostile/sub"
cp "$SRC/data/samples/train/krank_level-01.jpg" "$TMP/hostile/a.jpg"
cp "$SRC/data/samples/train/krank_level-02.jpg" "$TMP/hostile/sub/b.jpg"
ln -s . "$TMP/hostile/x"
ln -s .. "$TMP/hostile/sub/up"
ln -s "$TMP/hostile/nothing.jpg" "$TMP/hostile/dangling.jpg"
ln -s "$TMP/hostile/a.jpg" "$TMP/hostile/alias.jpg"
mkfifo "$TMP/hostile/pipe.jpg"
head -c 100 "$SRC/data/samples/train/krank_level-01.jpg" > "$TMP/hostile/sparse.jpg"
truncate -s 5G "$TMP/hostile/sparse.jpg"
out=$(timeout 30 "$TINT" data stats "$TMP/hostile" 2>&1) || fail "stats on a hostile tree: $out"
echo "$out" | grep -q "6 files" || fail "hostile tree count: $out"
echo "$out" | grep -Eq "usable +3 " || fail "hostile usable: $out"
echo "$out" | grep -q "pipe.jpg: unreadable (a FIFO, not a regular file)" || fail "FIFO not reported: $out"
echo "$out" | grep -q "dangling.jpg: unreadable (No such file or directory)" || fail "dangling link not reported: $out"
echo "$out" | grep -q "sparse.jpg: oversized (file is 5.0 GiB, limit 321.2 MiB)" || fail "sparse file not reported: $out"
echo "$out" | grep -q "links not followed 2" || fail "loops not reported: $out"
echo "$out" | grep -q "hostile/x: links to a folder already scanned" || fail "loop x not reported: $out"
# A list file naming the FIFO: read, refused, no blocking.
printf 'a.jpg\npipe.jpg\n' > "$TMP/hostile/list.txt"
out=$(timeout 30 "$TINT" data stats "$TMP/hostile/list.txt" 2>&1) || fail "stats on a list naming a FIFO: $out"
echo "$out" | grep -q "pipe.jpg: unreadable (a FIFO" || fail "listed FIFO not reported: $out"

# Nothing usable, nothing there, unknown commands: errors that name the culprit.
rm "$TMP/mixed/good.jpg"
out=$("$TINT" data stats "$TMP/mixed" 2>&1) && fail "all-bad set should fail: $out"
echo "$out" | grep -q "no usable image" || fail "all-bad message: $out"
out=$("$TINT" data stats "$TMP/nowhere" 2>&1) && fail "missing folder should fail"
echo "$out" | grep -q "nowhere" || fail "missing folder message: $out"
"$TINT" data frobnicate >/dev/null 2>&1
[ $? -eq 1 ] || fail "unknown subcommand should exit 1"
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
