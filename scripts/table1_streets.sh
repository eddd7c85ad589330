#!/usr/bin/env bash
# Table 1 on real streets at one budget, from the shipped streets run (train/RESULTS.md, "Table 1 on real streets").
# A/C is the run's stage 1 and A/C/R+TJT its stage 2 (2 epochs of the SRRN behind it). The other variants start
# from the same A and C (init.stage1: a warm start; the SRRN from its identity start) and train the same 2 epochs
# on the same data at stage 2's schedule, so every row has had the same steps since A/C. Then every row is scored on
# CamVid val under every rain kind (train/table1_report.py). DuRN + R + TJT (the authors' row): DuRN from scratch on the
# same data in front of the same frozen segmenter (4 epochs of 131 steps at stage 1's rate, 15 min here), then stage 2's
# SRRN behind it, frozen. About 1.7 hours on 2 CPU cores (1 h training). A killed run resumes.
#   RUN=runs/streets   the finished streets run (stage0, stage1, stage2)   OUT=runs/table1
set -euo pipefail
RUN=${RUN:-runs/streets}
OUT=${OUT:-runs/table1}
BIN=${VENV:-.venv}/bin
DATA=${DATA:-outputs/datasets}
SETS="data.root=$DATA/streets_car data.extra_roots=[$DATA/streets_paper,$DATA/streets_pane]"
BUDGET="optim.lr=5e-5 optim.epochs=2 optim.milestones=[0.7] optim.gamma=0.2 optim.warmup=0.2 optim.betas=[0.9,0.999]"
for variant in "A/C+OJT" "A/C/R" "A/C/R+OJT"; do
  # shellcheck disable=SC2086
  "$BIN/python" train/run.py --variant "$variant" --config streets --resume run.out="$OUT" \
      init.stage0="$RUN/stage0/last.pt" init.stage1="$RUN/stage1/last.pt" $SETS $BUDGET
done
# shellcheck disable=SC2086
"$BIN/python" train/run.py --variant "DuRN+R+TJT" --config streets --resume run.out="$OUT" \
    init.stage0="$RUN/stage0/last.pt" $SETS optim.epochs=4 optim.steps_per_epoch=131
"$BIN/python" train/table1_report.py --run "$RUN" --variants "$OUT" \
    --eval-data "car=$DATA/streets_car" "paper=$DATA/streets_paper" "pane=$DATA/streets_pane" --out "$OUT"
