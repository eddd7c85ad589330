"""The trainings of Table 1, as data: which modules learn, with which loss terms.

DeepLabv3+ is always the frozen stage-0 network; only what it judges changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from derain_seg_ros.losses import LossWeights


@dataclass(frozen=True)
class Stage:
    name: str
    trains: tuple[str, ...]  # pipeline submodules updated in this stage
    semantic: bool  # L_H on?
    semantic_on: str = "derained"
    attention: float = 1.0
    coarse: float = 1.0
    refine: float = 0.0
    uses_srrn: bool = True

    def weights(self, loss_cfg: dict) -> LossWeights:
        return LossWeights(attention=self.attention, coarse=self.coarse, refine=self.refine,
                           semantic=loss_cfg["semantic_weight"] if self.semantic else 0.0, semantic_on=self.semantic_on,
                           lf_layer=loss_cfg["lf_layer"], lf_weight=loss_cfg["lf_weight"], alpha=loss_cfg["alpha"])


STAGE1 = Stage("stage1", ("attention", "coarse"), semantic=False, uses_srrn=False)
STAGE2 = Stage("stage2", ("srrn",), semantic=True, attention=0.0, coarse=0.0, refine=1.0)

VARIANTS: dict[str, tuple[Stage, ...]] = {
    "A/C": (STAGE1,),
    "A/C+OJT": (Stage("A_C_OJT", ("attention", "coarse"), semantic=True, semantic_on="coarse", uses_srrn=False),),
    "A/C/R": (Stage("A_C_R", ("attention", "coarse", "srrn"), semantic=False, refine=1.0),),
    "A/C/R+OJT": (Stage("A_C_R_OJT", ("attention", "coarse", "srrn"), semantic=True, refine=1.0),),
    "A/C/R+TJT": (STAGE1, STAGE2),
}

