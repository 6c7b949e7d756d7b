#!/usr/bin/env bash
# The real `tint data fetch` (downloads about 230 MB of Debian packages): opt in with TINT_TEST_FETCH=1.
# Checks the counts, the manifest (sha256sum -c), that every photo decodes, and that a second fetch is quick.
# usage: bash data_fetch.sh <tint-binary> <source-dir>; exit 0 pass, 1 fail, 77 skip.
set -u
TINT=$(realpath "$1")
if [ "${TINT_TEST_FETCH:-0}" != 1 ]; then echo "skip: set TINT_TEST_FETCH=1 to run the real fetch"; exit 77; fi
command -v apt-get >/dev/null || { echo "skip: no apt-get"; exit 77; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
out=$("$TINT" data fetch "$TMP/photos" --cache "$TMP/cache" 2>&1) || fail "fetch: $out"
echo "$out"
train=$(find "$TMP/photos/train" -type f | wc -l)
val=$(find "$TMP/photos/val" -type f | wc -l)
[ "$train" -ge 380 ] || fail "only $train training photos"
[ "$val" -eq 53 ] || fail "$val validation photos, expected 53"
(cd "$TMP/photos" && sha256sum -c --quiet MANIFEST.sha256) || fail "manifest does not verify"
out=$("$TINT" data stats "$TMP/photos" 2>&1) || fail "stats: $out"
echo "$out" | grep -Eq "skipped +0$" || fail "some fetched photos do not decode: $out"
start=$(date +%s)
out=$("$TINT" data fetch "$TMP/photos" --cache "$TMP/cache" 2>&1) || fail "second fetch: $out"
echo "$out" | grep -q "already present" || fail "second fetch not quick: $out"
[ $(( $(date +%s) - start )) -le 5 ] || fail "second fetch took too long"
echo "pass"
