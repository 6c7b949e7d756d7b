#!/usr/bin/env bash
# The seed's experiment on tint: L1/L2 x batch 1/8, same images seen (6 epochs of 404 photos), 128 px pad.
set -u
cd /root/exp
for cfg in "l2 8" "l1 8" "l2 1" "l1 1"; do
  set -- $cfg
  name=$1-b$2
  [ -f $name/DONE ] && continue
  rm -rf $name
  echo "== $name start $(date -u +%T)"
  ./tint-bin train --data /root/tintdata/train --val /root/tintdata/val --size 128 --fit pad --width 16 --levels 4 \
     --loss $1 --batch $2 --lr 3e-4 --epochs 6 --seed 0 --log-every 50 --out $name > $name.log 2>&1 && touch $name/DONE
  echo "== $name end $(date -u +%T) rc=$?"
done
