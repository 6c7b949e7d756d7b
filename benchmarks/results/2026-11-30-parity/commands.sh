# Training parity with PyTorch 2.15.0 (pip, CPU), 2026-11-30, 2-core development machine, tint cpu backend.
# 1) small: 32 px, U-Net width 8, 2 levels, batch 4, 50 steps, L2 and L1
tint train --data data/samples/train --size 32 --width 8 --levels 2 --batch 4 --steps 50 --loss l2 --lr 3e-4 \
     --out parity/run --dump-batches parity/dump
python benchmarks/peers/torch_train_parity.py parity/dump --loss l2 --lr 3e-4 --threads 1 --json l2-32px-w8-l2.json
#    (the same with --loss l1 -> l1-32px-w8-l2.json)
# 2) larger: 64 px, width 16, 4 levels (the shipped model's shape), batch 8, 50 steps, L2
tint train --data data/samples/train --size 64 --width 16 --levels 4 --batch 8 --steps 50 --loss l2 --lr 3e-4 \
     --out parity-big/run --dump-batches parity-big/dump
python benchmarks/peers/torch_train_parity.py parity-big/dump --loss l2 --lr 3e-4 --threads 2 --json l2-64px-w16-l4.json
