"""R + TJT over any derainer: a frozen baseline network in front of the SRRN (the authors' DuRN + R + TJT).

The refinement is meant to help any deraining front-end (the authors' result tables: DuRN + R + TJT
37.38 dB / 68.35 % against DuRN's 31.88 / 66.37), so stage 2 trains the same SRRN, with the same
losses (L_R + w_H L_H), schedule and selection, behind a trained baseline as behind A and C.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from derain_seg_ros.nets.padding import crop_to, pad_to_multiple
from derain_seg_ros.nets.srrn import SRRN


class RefinedDerainer(nn.Module):
    """``base`` (any derainer returning 'derained') then the SRRN on its image.

    Returns the base's dict with 'coarse' (the base's clamped image: what the SRRN refines, as C's
    image behind A and C), 'refined' (one image per SRRB) and 'derained' (the last, clamped).
    """

    def __init__(self, base: nn.Module, srrn: SRRN, pad_multiple: int) -> None:
        super().__init__()
        self.base = base
        self.srrn = srrn
        self.pad_multiple = pad_multiple  # the SRRB U-Net's: 2 ** unet_downsamplings

    def forward(self, rainy: Tensor, refine: bool = True) -> dict[str, Any]:
        """``refine=False`` (the pipeline's ``bypass='refine'``) leaves the SRRN out: the base's image."""
        out = dict(self.base(rainy))
        coarse = out["derained"]
        refined = []
        if refine:
            padded, size = pad_to_multiple(coarse, self.pad_multiple)
            refined = [crop_to(x, size) for x in self.srrn(padded)]
        out.update(coarse=coarse, refined=refined, derained=(refined[-1] if refined else coarse).clamp(0, 1))
        return out
