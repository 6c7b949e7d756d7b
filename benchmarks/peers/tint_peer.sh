#!/usr/bin/env bash
# Another tint build as the peer of `tint bench`, interleaved step by step with this one (the peer
# protocol: tint bench --help, --serve). Two builds compared at the full thread count, each idle while the
# other runs, which benchmarks/ab_steps.sh (both at once, one thread each) cannot show:
#
#   TINT_PEER=/path/to/other/build/tools/tint \
#     build-rel/tools/tint bench --size 128 --batches 1 --peer bash \
#       --peer-script benchmarks/peers/tint_peer.sh --peer-name other
#
# TINT_PEER_ARGS adds options to the peer's command (word-split), e.g. "--conv-variant gemm". The peer
# takes the asking bench's device, batch, size, width, levels, loss, warm-up, precision and threads; its
# photos are its default (the embedded sample) unless TINT_PEER_ARGS gives --data. Only the interleaved
# mode: the sequential one expects a peer that times its own steps.
set -u
if [ -z "${TINT_PEER:-}" ] || [ ! -x "$TINT_PEER" ]; then
  echo "tint_peer.sh: set TINT_PEER to the tint binary to run as the peer (got '${TINT_PEER:-}')" >&2
  exit 2
fi
args=(bench --serve)
serve=0
while [ $# -gt 0 ]; do
  case "$1" in
    --device|--size|--width|--levels|--loss|--warmup|--precision) args+=("$1" "$2"); shift 2 ;;
    --batch) args+=(--batches "$2"); shift 2 ;;
    --threads) export TINT_THREADS=$2; shift 2 ;;
    --repeats|--setting) shift 2 ;;  # PyTorch's: what to try before serving
    --serve) serve=1; shift ;;
    *) echo "tint_peer.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
if [ "$serve" != 1 ]; then
  echo "tint_peer.sh: a tint peer runs only interleaved (--peer-mode interleaved, the default)" >&2
  exit 2
fi
# shellcheck disable=SC2086
exec "$TINT_PEER" "${args[@]}" ${TINT_PEER_ARGS:-}
