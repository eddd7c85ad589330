#!/usr/bin/env bash
# Retrain the shipped embedded model from scratch: stage 0, 1 and 2 with train/configs/embedded.yaml
# (about an hour on 2 CPU cores), then pack it into derain_seg_ros/models/embedded.pt and write its
# MODEL_CARD.md, measured on scenes of a seed that training never used. A killed run resumes.
#   RUN=runs/embedded        where the stages train
#   EXTRA="k=v ..."          more overrides for stages 1 and 2 (e.g. data.extra_roots=[DIR])
set -euo pipefail
RUN=${RUN:-runs/embedded}
BIN=${VENV:-.venv}/bin
EXTRA=${EXTRA:-}
S0="init.stage0=$RUN/stage0/last.pt"
# shellcheck disable=SC2086
"$BIN/python" train/run.py --stage 0 --config embedded --resume run.out="$RUN"
"$BIN/python" train/run.py --stage 1 --config embedded --resume run.out="$RUN" "$S0" $EXTRA
"$BIN/python" train/run.py --stage 2 --config embedded --resume run.out="$RUN" "$S0" init.stage1="$RUN/stage1/last.pt" $EXTRA
# Scenes no training used: seed 1001 is the card's (the targets); 1002 and 1003 are scored beside it.
"$BIN/derain-seg" synth --out "$RUN/eval_unseen" --count 120 --size 128x256 --seed 1001 --workers 2
for seed in 1002 1003; do
  "$BIN/derain-seg" synth --out "$RUN/eval_unseen_$seed" --count 120 --size 128x256 --seed "$seed" --workers 2
done
"$BIN/python" train/ship.py --model embedded --run "$RUN" --eval-data "$RUN/eval_unseen" "$RUN/eval_unseen_1002" "$RUN/eval_unseen_1003"
