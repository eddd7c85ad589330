#!/usr/bin/env bash
# The main job on the embedded default (procedural street scenes), end to end on 2 CPU cores in a
# few minutes: synthesise a small Raindrop-Cityscapes set and its preview figure, train stage 0 and
# the five Table-1 trainings (smoke sizes), evaluate them into REPORT.md with its figure, run the
# trained pipeline on a new rainy scene, export it to ONNX, and replay a synthetic rainy drive
# through the bag tool.
set -euo pipefail
OUT=${1:-outputs/demo}
BIN=${VENV:-.venv}/bin
mkdir -p "$OUT"

"$BIN/derain-seg" synth --source synthcity --out "$OUT/data" --count 64 --size 128x256 --seed 0 --workers 2
"$BIN/derain-seg" synth --preview --out "$OUT/preview.png" --size 256x512 --seed 3
"$BIN/python" train/ablation.py --config smoke --out "$OUT/ablation" data.root="$OUT/data" \
    stage0.epochs=16 optim.epochs=8 optim.milestones=[6]
CKPT="$OUT/ablation/stage2/last.pt"  # A/C/R+TJT: stage 1, then SRRN with L_R + L_H
"$BIN/derain-seg" demo --checkpoint "$CKPT" --out "$OUT/scene" --size 128x256 --seed 1234
"$BIN/derain-seg" export --checkpoint "$CKPT" --height 128 --width 256 --out "$OUT/pipeline_128x256.onnx"
rm -rf "$OUT/rainy_drive" "$OUT/rainy_drive_derained"
"$BIN/derain-seg" bag --make-demo "$OUT/rainy_drive"
"$BIN/derain-seg" bag "$OUT/rainy_drive" "$OUT/rainy_drive_derained" --checkpoint "$CKPT" --backend torch

echo "main job done: $OUT/ablation/REPORT.md (+ figure.png), $OUT/preview.png, $OUT/scene/sheet.png, $OUT/pipeline_128x256.onnx, $OUT/rainy_drive_derained"
