"""A global tone correction in front of C: one gain and offset per colour channel, per frame.

Why: a car camera's rain is mostly a veil (haze towards a grey airlight, and the wet glass'
scatter), which lowers the whole frame's contrast: rainy ~ a * clean + b. On CamVid val under the
car preset, the best per-channel affine map of each rainy frame (fitted to its clean frame) gains
+1.4 to +2.3 dB on every frame, heavy rain or light (train/RESULTS.md); C's U-Net, which corrects
pixels from a window, gained +0.3 dB at best. The amount of veil is a property of the frame, so
the head looks at all of it (global mean and max of a small strided CNN) and predicts six numbers.
The last layer starts at zero: a fresh head is the identity, and a checkpoint without it loads
with the head left there (``nets.config.GROWN_FIELDS``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

POOL = 4  # the head sees the frame at 1 / POOL of its size (the veil is smooth); train/tone_fit.py trains it there


class GlobalTone(nn.Module):
    """image (N x 3 x H x W in [0, 1], H and W multiples of POOL) -> gain * image + offset, per channel."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, width // 2, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(width // 2, width, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
        )
        self.head = nn.Sequential(nn.Linear(4 * width, 2 * width), nn.ReLU(inplace=True), nn.Linear(2 * width, 6))
        last = self.head[-1]
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def params(self, image: Tensor) -> tuple[Tensor, Tensor]:
        """(gain, offset), each N x 3 x 1 x 1, of a full-size frame."""
        return self.pooled_params(F.avg_pool2d(image, POOL))

    def pooled_params(self, small: Tensor) -> tuple[Tensor, Tensor]:
        """(gain, offset) from the frame already averaged over POOL x POOL blocks."""
        f = self.features(small * 2 - 1)
        pooled = torch.cat([f.mean(dim=(2, 3)), f.amax(dim=(2, 3))], dim=1)
        out = self.head(pooled)[..., None, None]
        return 1 + out[:, :3], out[:, 3:]

    def forward(self, image: Tensor) -> Tensor:
        gain, offset = self.params(image)
        return image * gain + offset
