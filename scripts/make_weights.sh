#!/usr/bin/env bash
# Retrain the shipped default model (streets) from scratch on 2 CPU cores (about 1.5 hours with the data and the card), then pack it
# into derain_seg_ros/models/streets.pt and write its MODEL_CARD.md, measured on CamVid's val frames
# (never trained on) under every rain kind and on real dry photos. A killed run resumes.
#   CAMVID=../shared/data/camvid      CamVid in SegNet's layout (train/, trainannot/, val/, valannot/)
#   DRY="real-drive=DIR@360x640 ..."  real dry photos for the do-no-harm lines (NAME=DIR[@HxW])
#   RUN=runs/streets                  where the stages train
set -euo pipefail
CAMVID=${CAMVID:-../shared/data/camvid}
RUN=${RUN:-runs/streets}
BIN=${VENV:-.venv}/bin
DATA=${DATA:-outputs/datasets}
DRY=${DRY:-"real-drive=../shared/data/real-drive/images@360x640 cityscapes-photo=../shared/data/cityscapes-mini/leftImg8bit"}
# CamVid under every rain kind; its train/val split is kept (val items are test items, never trained on).
seed=0
for kind in car paper pane; do
  "$BIN/derain-seg" synth --source camvid --root "$CAMVID" --split all --size 360x480 --seed $seed \
      --rain-preset $kind --workers 2 --out "$DATA/streets_$kind"
  seed=$((seed + 1))
done
S0="init.stage0=$RUN/stage0/last.pt"
SETS="data.root=$DATA/streets_car data.extra_roots=[$DATA/streets_paper,$DATA/streets_pane]"
# shellcheck disable=SC2086
# Stage 0: one poly cycle from ImageNet; stages 1 and 2 as train/configs/streets.yaml says.
"$BIN/python" train/run.py --stage 0 --config streets --resume run.out="$RUN" $SETS
"$BIN/python" train/run.py --stage 1 --config streets --resume run.out="$RUN" "$S0" $SETS
"$BIN/python" train/run.py --stage 2 --config streets --resume run.out="$RUN" "$S0" init.stage1="$RUN/stage1/last.pt" $SETS
# shellcheck disable=SC2086
"$BIN/python" train/ship.py --model streets --run "$RUN" \
    --eval-data "car=$DATA/streets_car" "paper=$DATA/streets_paper" "pane=$DATA/streets_pane" --dry $DRY
