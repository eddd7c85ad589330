#!/usr/bin/env bash
# The main job on the embedded default, end to end on 2 CPU cores in a few minutes:
#  1. the shipped streets model (derain_seg_ros/models/streets.pt) on real dash-cam photos it never saw,
#     each under the car, paper and pane rain: a sheet with the labels with and without deraining;
#  2. the procedural-scene model (--model embedded) on fresh synthetic scenes and its Table-1 metrics;
#  3. a short training run of stage 0, 1 and 2 (tiny networks) to show the stages and the report;
#  4. deployment: ONNX export and a synthetic rainy drive through the bag tool, shipped model.
set -euo pipefail
OUT=${1:-outputs/demo}
BIN=${VENV:-.venv}/bin
mkdir -p "$OUT"

# Real photos (MIT, docs/demo_photos) under every rain kind, through the default streets model.
"$BIN/derain-seg" demo --photos docs/demo_photos --size 360x640 --seed 7 --out "$OUT/real_photos"
# Fresh scenes: seed 2026 is a dataset seed the embedded model's training never used.
"$BIN/derain-seg" synth --source synthcity --out "$OUT/data" --count 64 --size 128x256 --seed 2026 --workers 2
"$BIN/derain-seg" synth --preview --out "$OUT/preview.png" --size 256x512 --seed 3
"$BIN/derain-seg" demo --model embedded --out "$OUT/scenes" --scenes 3 --seed 7
for mode in rainy derained; do
  "$BIN/python" train/evaluate.py --checkpoint derain_seg_ros/models/embedded.pt --data "$OUT/data" --split all \
      --input "$mode" --out "$OUT/shipped_eval/$mode"
done
# Tiny networks with the shipped recipe's choices: a residual C gated by M, and a stage 2 that hands
# on the best of its held-out scores (the identity included).
"$BIN/python" train/ablation.py --config smoke --out "$OUT/training" data.root="$OUT/data" \
    stage0.epochs=16 optim.epochs=8 stage2.epochs=8 model.coarse.residual=true model.coarse.gate=true \
    stage2.select_best=true data.val_count=8 --rows "A/C" "A/C/R+TJT"
"$BIN/derain-seg" export --height 128 --width 256 --out "$OUT/pipeline_128x256.onnx"
rm -rf "$OUT/rainy_drive" "$OUT/rainy_drive_derained"
"$BIN/derain-seg" bag --make-demo "$OUT/rainy_drive"
"$BIN/derain-seg" bag "$OUT/rainy_drive" "$OUT/rainy_drive_derained" --backend torch

echo "main job done: $OUT/real_photos/sheet.png (streets model, real photos under each rain kind),"
echo "  $OUT/scenes/sheet.png (embedded model, fresh scenes), $OUT/shipped_eval/*/metrics.md,"
echo "  $OUT/training/REPORT.md (+ figure.png), $OUT/preview.png, $OUT/pipeline_128x256.onnx, $OUT/rainy_drive_derained"
