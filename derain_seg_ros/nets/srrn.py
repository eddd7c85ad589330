"""SRRB and SRRN: the semantic refinement residual network (Sec. 3 of the paper)."""

from __future__ import annotations

from itertools import accumulate

from torch import Tensor, nn

from derain_seg_ros.nets.config import SRRBConfig
from derain_seg_ros.nets.layers import ResidualBlock, SkipUNet, conv_bn_relu


class SRRB(nn.Module):
    """Two branches on one input, summed into a residual M_r; the block returns input + M_r.

    The U-Net branch sees a large receptive field (semantics), the full-resolution branch keeps
    pixel detail.
    """

    def __init__(self, cfg: SRRBConfig = SRRBConfig()) -> None:
        super().__init__()
        self.unet = SkipUNet(3, 3, cfg.unet_ngf, cfg.unet_downsamplings, cfg.unet_max_channels, blocks=0)
        self.full = nn.Sequential(
            conv_bn_relu(3, cfg.full_channels),
            *(ResidualBlock(cfg.full_channels) for _ in range(cfg.full_blocks)),
            nn.ReflectionPad2d(1),
            nn.Conv2d(cfg.full_channels, 3, 3),
        )
        # Zero-initialised last layers: a fresh SRRB is the identity, so stage II starts from the
        # coarse image and can only refine it (the paper leaves the initialisation open).
        for last in (self.unet.head[1], self.full[-1]):
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.unet(x) + self.full(x)


class SRRN(nn.Module):
    """N chained SRRBs; returns every block's output (L_R supervises the intermediate ones too)."""

    def __init__(self, cfg: SRRBConfig = SRRBConfig(), num_blocks: int = 2) -> None:
        """``num_blocks=0`` is the A/C ablation: no refinement, the coarse image is the output."""
        super().__init__()
        if num_blocks < 0:
            raise ValueError(f"SRRN needs zero or more SRRBs, got {num_blocks}")
        self.blocks = nn.ModuleList(SRRB(cfg) for _ in range(num_blocks))

    def forward(self, coarse: Tensor) -> list[Tensor]:
        """Each SRRB refines the previous one's image; every refined image is returned (L_R weighs them all)."""
        return list(accumulate(self.blocks, lambda image, block: block(image), initial=coarse))[1:]
