"""The trainings of Table 1, as data: which modules learn, with which loss terms, on which schedule;
and the paper's four baselines, each a deraining network trained with its own losses.

DeepLabv3+ is always the frozen stage-0 network; only what it judges changes. This is the one
place that says which loss terms a stage uses (stage 1: L_Att + L_D; stage 2: L_R + w_H L_H).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from derain_seg_ros.losses import LossWeights
from train.config import LossConfig


@dataclass(frozen=True)
class Stage:
    name: str
    trains: tuple[str, ...]  # pipeline submodules updated in this stage
    semantic: bool  # L_H on?
    semantic_on: Literal["coarse", "derained"] = "derained"
    attention: float = 1.0
    coarse: float = 1.0
    refine: float = 0.0
    uses_srrn: bool = True
    optim: Literal["optim", "stage2"] = "optim"  # which section of the config sets its rate and schedule

    def weights(self, loss: LossConfig) -> LossWeights:
        return LossWeights(
            attention=self.attention,
            coarse=self.coarse,
            refine=self.refine,
            semantic=loss.semantic_weight if self.semantic else 0.0,
            semantic_on=self.semantic_on,
            log_mse=loss.log_mse_weight,
            log_mse_eps=loss.log_mse_eps,
            lf_layer=loss.lf_layer,
            lf_weight=loss.lf_weight,
            alpha=loss.alpha,
        )


STAGE1 = Stage("stage1", ("attention", "coarse"), semantic=False, uses_srrn=False)
"""Eq. (5): L_1 = L_Att + L_D(I_C, I_gt)."""
STAGE1_SEMANTIC = Stage("stage1", ("attention", "coarse"), semantic=True, semantic_on="coarse", uses_srrn=False)
"""Stage 1 with ``loss.stage1_semantic``: L_Att + L_D + w_H L_H(I_C), the A/C+OJT variant's losses."""
STAGE2 = Stage("stage2", ("srrn",), semantic=True, attention=0.0, coarse=0.0, refine=1.0, optim="stage2")
"""Eq. (6): L_2 = L_R + w_H L_H, only the SRRN learns (w_H: loss.semantic_weight, the authors' 0.005)."""


def stage1(loss: LossConfig) -> Stage:
    """What ``--stage 1`` trains: eq. (5), or with ``loss.stage1_semantic`` the segmenter's judgement of C too."""
    return STAGE1_SEMANTIC if loss.stage1_semantic else STAGE1


VARIANTS: dict[str, tuple[Stage, ...]] = {
    "A/C": (STAGE1,),
    "A/C+OJT": (replace(STAGE1_SEMANTIC, name="A_C_OJT"),),
    "A/C/R": (Stage("A_C_R", ("attention", "coarse", "srrn"), semantic=False, refine=1.0),),
    "A/C/R+OJT": (Stage("A_C_R_OJT", ("attention", "coarse", "srrn"), semantic=True, refine=1.0),),
    "A/C/R+TJT": (STAGE1, STAGE2),
}


@dataclass(frozen=True)
class Baseline:
    """A published deraining network in front of the same frozen DeepLab, trained in one stage with
    its own losses (``train/baselines/jobs.py``) on the ``optim`` section's budget, like every variant."""

    name: str  # the variant's name and its run folder
    derainer: str  # a name of train.baselines.pipeline.NETWORKS
    adversarial: bool  # a GAN: its discriminator is stepped in the same loop


BASELINES: dict[str, Baseline] = {
    "AGAN": Baseline("AGAN", "agan", adversarial=True),
    "PReNet": Baseline("PReNet", "prenet", adversarial=False),
    "DuRN": Baseline("DuRN", "durn", adversarial=False),
    "ICSC": Baseline("ICSC", "icsc", adversarial=True),
}
"""In the order of the paper's comparison tables (Fig. 2 and 3)."""
REFINED: dict[str, Baseline] = {f"{b.name}+R+TJT": b for b in BASELINES.values()}
"""R + TJT over a baseline (the authors' DuRN + R + TJT): the baseline trained as in its own row, then
stage 2's SRRN behind it, frozen (``train/baselines/jobs.py``, ``refined_baseline_job``)."""
