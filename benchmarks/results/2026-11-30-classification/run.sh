#!/usr/bin/env bash
# Colorization as classification on tint, at the seed experiment's budget (../2026-11-30-seed-experiment/run_all.sh):
# the same 404 photos, 128 px pad, U-Net width 16, 4 levels, Adam lr 3e-4, 6 epochs, seed 0, batch 8; only the
# head differs. Then one table with the four regression models of the seed experiment on the 53 validation photos.
# `cic-bin` is `tint` built with -DCMAKE_BUILD_TYPE=Release -DTINT_CUDA=OFF (build-release/tools/tint).
set -u
cd /root/exp
name=cic-b8
if [ ! -f $name/DONE ]; then
  rm -rf $name
  echo "== $name start $(date -u +%T)"
  ./cic-bin train --data /root/tintdata/train --val /root/tintdata/val --size 128 --fit pad --width 16 --levels 4 \
     --head classification --batch 8 --lr 3e-4 --epochs 6 --seed 0 --log-every 50 --out $name > $name.log 2>&1 \
     && touch $name/DONE
  echo "== $name end $(date -u +%T) rc=$?"
fi
# The seed experiment's mean baseline (-0.40, 3.06) for the same rows as its report.
./cic-bin eval --compare cic-b8 l1-b1 l1-b8 l2-b1 l2-b8 --data /root/tintdata/val --size 128 --all-decodes \
   --train-mean -0.40,3.06 --examples 8 --out eval-classification > eval-classification.log 2>&1
echo "== eval rc=$?"
