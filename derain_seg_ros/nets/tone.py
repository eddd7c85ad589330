"""The tone head in front of C: a gain and an offset per colour channel, for the frame and, with
``local``, for each cell of a coarse grid.

Why: a car camera's rain is mostly a veil (haze towards a grey airlight, thicker with distance, and
the wet glass' scatter, a wide halo), which lowers the frame's contrast: rainy ~ a * clean + b,
with a and b smooth over the frame. On CamVid val under the car preset, the best per-channel
affine map of each rainy frame (one per frame, fitted to its clean frame) gains +1.4 to +2.3 dB on
every frame; C's U-Net, which corrects pixels from a window, gained +0.3 dB at best. The head looks
at the whole frame (a small strided CNN, its global mean and max) and predicts six numbers; the
``local`` branch adds six more per cell of the CNN's 1/(8 POOL) grid from that cell's features and
the global ones, upsampled bilinearly: the haze grows with depth down the frame, which one affine
map per frame cannot follow (fitted alone, the head alone on car rain: +1.2 dB global, +3.8 to +4.5 with
the grid; train/RESULTS.md). The last layers start at zero: a fresh head is the identity, and a
checkpoint without the head or its grid loads with them left there (``nets.config.GROWN_FIELDS``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

POOL = 4  # the head sees the frame at 1 / POOL of its size (the veil is smooth); train/tone_fit.py trains it there


def frame_encoder(inputs: int, width: int) -> nn.Sequential:
    """Three strided 3x3 convs: a pooled frame -> 2 ``width`` features per cell of a grid 8 times coarser."""
    return nn.Sequential(
        nn.Conv2d(inputs, width // 2, 3, stride=2, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(width // 2, width, 3, stride=2, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
        nn.ReLU(inplace=True),
    )


class ToneHead(nn.Module):
    """image (N x 3 x H x W in [0, 1], H and W multiples of POOL) -> gain * image + offset, per channel."""

    def __init__(self, width: int = 32, local: bool = False) -> None:
        super().__init__()
        self.features = frame_encoder(3, width)
        self.head = nn.Sequential(nn.Linear(4 * width, 2 * width), nn.ReLU(inplace=True), nn.Linear(2 * width, 6))
        # Per grid cell: its own features beside the frame's pooled ones (how thick the veil is here, given the frame).
        self.local = (
            nn.Sequential(nn.Conv2d(6 * width, 2 * width, 1), nn.ReLU(inplace=True), nn.Conv2d(2 * width, 6, 1))
            if local
            else None
        )
        for last in (self.head[-1], *(() if self.local is None else (self.local[-1],))):
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    def params(self, image: Tensor) -> tuple[Tensor, Tensor]:
        """(gain, offset) of a full-size frame: N x 3 x 1 x 1 each, or N x 3 x H x W with ``local``."""
        gain, offset = self.pooled_params(F.avg_pool2d(image, POOL))
        if self.local is None:
            return gain, offset
        both = F.interpolate(torch.cat([gain, offset], 1), size=image.shape[2:], mode="bilinear", align_corners=False)
        return both[:, :3], both[:, 3:]

    def pooled_params(self, small: Tensor) -> tuple[Tensor, Tensor]:
        """(gain, offset) from the frame already averaged over POOL x POOL blocks (at its size with ``local``)."""
        f = self.features(small * 2 - 1)
        pooled = torch.cat([f.mean(dim=(2, 3)), f.amax(dim=(2, 3))], dim=1)
        out = self.head(pooled)[..., None, None]
        if self.local is not None:
            cells = self.local(torch.cat([f, pooled[..., None, None].expand(-1, -1, *f.shape[2:])], dim=1))
            out = out + F.interpolate(cells, size=small.shape[2:], mode="bilinear", align_corners=False)
        return 1 + out[:, :3], out[:, 3:]

    def forward(self, image: Tensor) -> Tensor:
        gain, offset = self.params(image)
        return image * gain + offset
