"""DuRN-S-P: the dual residual network for raindrop removal (Liu, Suganuma, Sun, Okatani; CVPR 2019).

A dual residual block (DuRB) holds a residual block and two operations T1, T2 whose outputs feed
two residual paths: T1's output is added to the previous block's T1 output (``res``), T2's to the
block's input. Stacking them connects every T1 with every later T2 (the paper's "dual residual
connection"). DuRB-S puts a squeeze-and-excitation block in T2 (spatial attention across the
trunk), DuRB-P a large conv. The trunk runs at 1/4 resolution; the net predicts the raindrop
layer and subtracts it from the input.

Sizes (all from liu-vis/DualResidualNetworks, ``pietorch/DuRN_S_P.py`` class ``cleaner``, its
``DualSELayer``/``DualResLayer``, and ``pietorch/se_nets.py``/``N_modules.py`` for the SE block):
- stem: conv5x5 3 -> 64, conv3x3/2 64 -> 128, conv3x3/2 128 -> 128, each BN + ReLU;
- 3 DuRB-S (T1 conv3x3 with dilation 12, 8, 6; T2 = SE basic block + conv3x3), then ``res`` is
  reset to the trunk, 6 DuRB-P (T1 = (kernel, dilation) (3,2) (5,1) (3,3) (7,1) (3,4) (7,1);
  T2 conv5x5); all 128 channels with BatchNorm;
- SE basic block: two bias-free conv3x3 + BN, channel gate Linear(128, 64) ReLU Linear(64, 128)
  sigmoid (the code's ``reduction=64`` is the hidden width, not a ratio), + input, ReLU;
- head: smooth x2 upsampling 128 -> 128, conv3x3 + BN + ReLU, smooth x2 upsampling 128 -> 64,
  conv5x5 64 -> 3, tanh; output = input - tanh(...).
Convs with dilation 1 pad by reflection, dilated ones by zeros (as the code). Loss:
``losses.durn_loss`` (``train/experimental_settings_summary``, raindrop).

Deviation, on purpose: the code's first conv is 5x5 with padding 1, which shrinks the image by 2
and relies on the stride-2 rounding to grow it back (so the trunk sits one pixel off the input);
here it pads by 2, which keeps every size exact. Same parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from derain_seg_ros.nets.padding import crop_to, pad_to_multiple
from train.baselines.blocks import SmoothUpsample


@dataclass(frozen=True)
class DuRNSPConfig:
    stem_channels: int = 64
    channels: int = 128
    se_hidden: int = 64
    s_dilations: tuple[int, ...] = (12, 8, 6)
    p_kernels_dilations: tuple[tuple[int, int], ...] = ((3, 2), (5, 1), (3, 3), (7, 1), (3, 4), (7, 1))

    def __post_init__(self) -> None:
        if min(self.stem_channels, self.channels, self.se_hidden) < 1:
            raise ValueError(f"DuRNSPConfig needs positive widths, got {self}")

    @property
    def pad_multiple(self) -> int:
        """A multiple of 4 (two stride-2 convs) that also leaves the 1/4-size trunk wider than its
        largest reflection pad (T2's 5x5, the 7x7 T1s), which reflection needs: 16 at paper size."""
        largest_pad = max([2] + [k // 2 for k, d in self.p_kernels_dilations if d == 1])
        return 4 * (largest_pad + 1)

    @classmethod
    def embedded(cls) -> DuRNSPConfig:
        """For the embedded preset's CPU budget: the paper's 9 blocks and kernels, 3/8 of its widths."""
        return cls(stem_channels=24, channels=48, se_hidden=24)

    @classmethod
    def small(cls) -> DuRNSPConfig:
        """For tests and the smoke preset: two DuRB-S and two DuRB-P, 8 channels."""
        return cls(stem_channels=8, channels=8, se_hidden=4, s_dilations=(2, 3), p_kernels_dilations=((3, 2), (5, 1)))


def conv(in_ch: int, out_ch: int, kernel: int, dilation: int = 1) -> nn.Sequential:
    """Size-keeping conv: reflection padding without dilation, zero padding with it (as the code)."""
    pad = dilation * (kernel // 2)
    if dilation == 1:
        return nn.Sequential(nn.ReflectionPad2d(pad), nn.Conv2d(in_ch, out_ch, kernel))
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, kernel, padding=pad, dilation=dilation))


class SEBasicBlock(nn.Module):
    """Residual block whose output channels are re-weighted by a global-context gate."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(channels, hidden),
            nn.ReLU(),
            nn.Linear(hidden, channels),
            nn.Sigmoid(),
        )
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        y = self.body(x)
        return self.relu(x + y * self.gate(y)[:, :, None, None])


class DuRB(nn.Module):
    """One dual residual block: a residual block, then T1 (on the ``res`` path) and T2 (back to the input)."""

    def __init__(self, channels: int, t1: nn.Module, t2: nn.Module) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(conv(channels, channels, 3), nn.BatchNorm2d(channels), nn.ReLU())
        self.conv2 = conv(channels, channels, 3)
        self.norm2 = nn.BatchNorm2d(channels)
        self.t1 = t1
        self.t2 = t2
        self.relu = nn.ReLU()

    def forward(self, x: Tensor, res: Tensor) -> tuple[Tensor, Tensor]:
        y = self.relu(self.norm2(x + self.conv2(self.conv1(x))))
        res = self.relu(self.t1(y) + res)
        return self.relu(self.t2(res) + x), res


def durb_s(channels: int, dilation: int, se_hidden: int) -> DuRB:
    t1 = nn.Sequential(conv(channels, channels, 3, dilation), nn.BatchNorm2d(channels))
    t2 = nn.Sequential(SEBasicBlock(channels, se_hidden), conv(channels, channels, 3), nn.BatchNorm2d(channels))
    return DuRB(channels, t1, t2)


def durb_p(channels: int, kernel: int, dilation: int) -> DuRB:
    t1 = nn.Sequential(conv(channels, channels, kernel, dilation), nn.BatchNorm2d(channels))
    t2 = nn.Sequential(conv(channels, channels, 5), nn.BatchNorm2d(channels))
    return DuRB(channels, t1, t2)


def conv_bn_relu(in_ch: int, out_ch: int, kernel: int, stride: int) -> nn.Sequential:
    """Zero-padded stem conv (stride 2 halves any even size exactly)."""
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2), nn.BatchNorm2d(out_ch), nn.ReLU()
    )


class DuRNSP(nn.Module):
    def __init__(self, cfg: DuRNSPConfig = DuRNSPConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        stem, width = cfg.stem_channels, cfg.channels
        self.stem = nn.Sequential(
            conv_bn_relu(3, stem, 5, 1),
            conv_bn_relu(stem, width, 3, 2),
            conv_bn_relu(width, width, 3, 2),
        )
        self.s_blocks = nn.ModuleList(durb_s(width, d, cfg.se_hidden) for d in cfg.s_dilations)
        self.p_blocks = nn.ModuleList(durb_p(width, k, d) for k, d in cfg.p_kernels_dilations)
        self.head = nn.Sequential(
            SmoothUpsample(width, width),
            conv(width, width, 3),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            SmoothUpsample(width, stem),
            conv(stem, 3, 5),
            nn.Tanh(),
        )

    def forward(self, rainy: Tensor) -> dict[str, Any]:
        """``rainy``: N x 3 x H x W in [0, 1], any size (padded to ``cfg.pad_multiple`` inside).
        Returns 'output' (unclamped, what the loss sees) and 'derained' (clamped to [0, 1])."""
        padded, size = pad_to_multiple(rainy, self.cfg.pad_multiple)
        x = self.stem(padded)
        res = x
        for block in self.s_blocks:
            x, res = block(x, res)
        res = x
        for block in self.p_blocks:
            x, res = block(x, res)
        output = crop_to(padded - self.head(x), size)
        return {"output": output, "derained": output.clamp(0, 1)}
