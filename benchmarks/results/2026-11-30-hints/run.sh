#!/usr/bin/env bash
# Colour hints on tint (Zhang et al. 2017), at the seed experiment's budget (../2026-11-30-seed-experiment/run_all.sh):
# the same 404 photos, 128 px pad, U-Net width 16, 4 levels, Adam lr 3e-4, 6 epochs, seed 0, batch 8, L2 loss, and
# --hints (input L + simulated hint ab + hint mask). Then PSNR against the number of simulated hints on the 53
# validation photos. `hints-bin` is `tint` from the merge of the hints work (Debug engine, kernels -O2).
set -u
cd /root/exp
./hints-bin train --data /root/tintdata/train --val /root/tintdata/val --size 128 --fit pad --width 16 --levels 4 \
   --loss l2 --hints --batch 8 --lr 3e-4 --epochs 6 --seed 0 --log-every 50 --out l2-b8-hints > l2-b8-hints.log 2>&1
./hints-bin eval --model l2-b8-hints --data /root/tintdata/val --size 128 --hints 0,1,2,5,10,20,50,100 \
   --train-mean -0.40,3.06 --examples 8 --out eval-hints > eval-hints.log 2>&1
