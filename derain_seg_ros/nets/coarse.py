"""C, the coarse deraining network: rainy image (+) rain map -> coarse derained image I_C."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from derain_seg_ros.nets.config import CoarseConfig
from derain_seg_ros.nets.layers import SkipUNet
from derain_seg_ros.nets.tone import ToneHead
from derain_seg_ros.nets.trust import TrustHead

M_FLOOR = 1e-6  # M^p for p < 1 has an infinite slope at M = 0; floored, its gradient stays finite (1e-6^0.5 = 0.001)


class CoarseNet(nn.Module):
    """pix2pixHD-style global generator with skip concatenations (authors' sizes).

    The generator works on [-1, 1] images, as pix2pixHD does. Two readings of its output:
    - ``residual=False`` (the authors' code): the tanh output *is* the image, mapped back to [0, 1].
      It must redraw every pixel through its narrow stem, so rain-free pixels blur and shift colour.
    - ``residual=True``: the tanh output is a correction added to the rainy image, and the last
      conv starts at zero, so a fresh C is the identity and rain-free pixels need not be learnt.
      With ``gate`` the correction is multiplied by the rain map M, as the paper's own image model
      I_r = (1 - M) I_gt + R + S says that pixels outside M need no change.
    With ``tone`` a gain and offset per channel (nets/tone.py; per frame, and with ``tone_grid`` per
    cell of a coarse grid too) first lifts the veil from the whole frame, M or not, and C corrects
    that image; with ``residual`` only (a redrawing C has its own colours). With ``trust`` (``gate`` only)
    a scale in (0, 1] per frame and per grid cell (nets/trust.py) holds the gated correction back where it harms.
    ``gate_power`` p gates by M^p instead: below 1 it lets more of the correction through where A's map is
    unsure (the glass pane's drops), never more than C's own output.
    """

    def __init__(self, cfg: CoarseConfig = CoarseConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        self.generator = SkipUNet(4, 3, cfg.ngf, cfg.downsamplings, cfg.max_channels, cfg.blocks)
        if cfg.tone and not cfg.residual:
            raise ValueError(
                "coarse.tone needs coarse.residual: the tone-corrected frame is what C's correction adds to"
            )
        if cfg.tone_grid and not cfg.tone:
            raise ValueError(
                "coarse.tone_grid needs coarse.tone: the grid refines the tone head's global gain and offset"
            )
        if cfg.trust and not (cfg.residual and cfg.gate):
            raise ValueError("coarse.trust needs coarse.residual and coarse.gate: it scales C's gated correction")
        if cfg.gate_power != 1.0 and not (cfg.residual and cfg.gate and cfg.gate_power > 0):
            raise ValueError(
                f"coarse.gate_power {cfg.gate_power} needs coarse.residual and coarse.gate and a power > 0"
            )
        self.tone = ToneHead(local=cfg.tone_grid) if cfg.tone else None
        self.trust = TrustHead() if cfg.trust else None
        if cfg.residual:
            last = self.generator.head[1]
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    def parts(self, rainy: Tensor, attention: Tensor) -> tuple[Tensor, Tensor]:
        """(base, correction) of a residual C: the tone-corrected frame and the generator's correction, gated by M
        with ``gate``; the trust head, if any, has not scaled it yet (train/trust_fit.py fits it on these)."""
        base = rainy if self.tone is None else self.tone(rainy)
        out = self.generator(torch.cat([base * 2 - 1, attention], dim=1))
        if not self.cfg.gate:
            return base, out
        if self.cfg.gate_power == 1.0:  # bit for bit what C was trained with
            return base, out * attention
        return base, out * attention.clamp(min=M_FLOOR) ** self.cfg.gate_power

    def forward(self, rainy: Tensor, attention: Tensor) -> Tensor:
        if not self.cfg.residual:
            return (self.generator(torch.cat([rainy * 2 - 1, attention], dim=1)) + 1) / 2
        base, correction = self.parts(rainy, attention)
        return base + correction if self.trust is None else self.trust(base, attention, correction)
