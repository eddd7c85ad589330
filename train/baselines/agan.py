"""AGAN: attentive generative adversarial network for raindrop removal (Qian, Tan, Yang, Su, Liu;
CVPR 2018), Fig. 2 of the paper: generator = attentive-recurrent network + contextual
autoencoder; discriminator with its own attention map.

The attentive-recurrent network refines a rain attention map over ``steps`` time steps (each step
sees the rainy image and the previous map, and keeps a ConvLSTM state); the autoencoder takes the
rainy image and the last map and decodes the clean image, with side outputs at 1/4 and 1/2 size
for the multi-scale loss. The discriminator predicts an attention map of its own from an interior
layer (trained to match the generator's map on derained images and zero on clean ones) and
multiplies it back into its features before judging real/fake.

Sizes (from rui1996/DeRaindrop, the authors' code, ``models/generator.py`` and
``models/discriminator.py``):
- attentive-recurrent: 4 steps; conv3x3 4 -> 32 + ReLU, 5 residual blocks (two conv3x3 32 + ReLU),
  ConvLSTM with 32 hidden channels, conv3x3 32 -> 1 (no activation) = the attention map; the
  first step's map is 0.5 everywhere;
- autoencoder on [rainy, map]: conv5x5 4 -> 64; conv3x3/2 -> 128, conv3x3 128; conv3x3/2 -> 256,
  2x conv3x3 256, 4 dilated conv3x3 256 (dilation 2, 4, 8, 16), 2x conv3x3 256 (all ReLU);
  side output conv3x3 256 -> 3 + ReLU (1/4 size); smooth x2 upsampling 256 -> 128 plus the
  1/2-size encoder feature, conv3x3 128, side output conv3x3 128 -> 3 + ReLU (1/2 size); smooth
  x2 upsampling 128 -> 64 plus the full-size encoder feature, conv3x3 64 -> 32, conv3x3 32 -> 3
  (no activation) = the output;
- discriminator: six conv5x5 (3 -> 8 -> 16 -> 64 -> 128 -> 128 -> 128, ReLU), attention map
  conv5x5 128 -> 1, then on features x map: conv5x5/4 128 -> 64, conv5x5/4 64 -> 32 (ReLU),
  Linear(32*14*14, 1024), Linear(1024, 1) (no activation between them, as the code).
Loss weights (theta 0.8, lambdas 0.6/0.8/1.0, 0.01 on L_GAN, gamma 0.05) are in
``losses`` with their sources.

Deviations, on purpose:
- The code's discriminator applies ``conv7`` twice (it would not run: the second call gets 64
  channels where it expects 128); here conv7 then conv8, the only order whose sizes fit
  ``Linear(32*14*14, ...)`` at the 224 x 224 crops it was written for.
- That Linear fixes the input to 224 x 224; an adaptive average pool to 14 x 14 in front of it
  (the identity at 224 x 224) lets the discriminator judge any crop size with the same weights.
- The discriminator returns the logit, not the sigmoid: the losses use the log-sigmoid forms,
  which are the same functions without the overflow at saturated outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from derain_seg_ros.nets.padding import crop_to, pad_to_multiple
from train.baselines.blocks import ConvLSTMCell, ReluResBlock, SmoothUpsample


@dataclass(frozen=True)
class AGANConfig:
    steps: int = 4
    attention_channels: int = 32
    attention_blocks: int = 5
    widths: tuple[int, int, int] = (64, 128, 256)  # autoencoder at full, 1/2 and 1/4 size
    dilations: tuple[int, ...] = (2, 4, 8, 16)
    last_channels: int = 32

    def __post_init__(self) -> None:
        if (
            self.steps < 1
            or len(self.widths) != 3
            or min(*self.widths, self.attention_channels, self.last_channels) < 1
        ):
            raise ValueError(f"AGANConfig needs steps >= 1 and three positive autoencoder widths, got {self}")

    @property
    def pad_multiple(self) -> int:
        return 4  # two stride-2 convs in the autoencoder

    @classmethod
    def embedded(cls) -> AGANConfig:
        """For the embedded preset's CPU budget: the paper's 4 steps and layers, 1/4 of its widths."""
        return cls(attention_channels=8, widths=(16, 32, 64), last_channels=8)

    @classmethod
    def small(cls) -> AGANConfig:
        """For tests and the smoke preset: two time steps, one block, 8-16 channels."""
        return cls(
            steps=2, attention_channels=8, attention_blocks=1, widths=(8, 8, 16), dilations=(2, 4), last_channels=8
        )


@dataclass(frozen=True)
class AGANDiscriminatorConfig:
    widths: tuple[int, ...] = (8, 16, 64, 128, 128, 128)
    tail_widths: tuple[int, int] = (64, 32)
    fc_grid: int = 14
    fc_hidden: int = 1024

    def __post_init__(self) -> None:
        if not self.widths or min(*self.widths, *self.tail_widths, self.fc_grid, self.fc_hidden) < 1:
            raise ValueError(f"AGANDiscriminatorConfig needs positive widths, got {self}")

    @classmethod
    def embedded(cls) -> AGANDiscriminatorConfig:
        """For the embedded preset's CPU budget: the paper's layers, thin; the head pools to 8 x 8 and has 128 hidden units."""
        return cls(widths=(4, 8, 8, 8, 8, 8), tail_widths=(8, 8), fc_grid=8, fc_hidden=128)

    @classmethod
    def small(cls) -> AGANDiscriminatorConfig:
        """For tests and the smoke preset: three thin layers, a 3 x 3 head."""
        return cls(widths=(4, 4, 8), tail_widths=(8, 4), fc_grid=3, fc_hidden=8)


def conv_relu(in_ch: int, out_ch: int, kernel: int = 3, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel, stride, padding=dilation * (kernel // 2), dilation=dilation), nn.ReLU()
    )


class AttentiveRecurrentNet(nn.Module):
    """Rainy image -> one attention map per time step, each refining the previous one."""

    def __init__(self, cfg: AGANConfig) -> None:
        super().__init__()
        self.steps = cfg.steps
        width = cfg.attention_channels
        self.f_in = conv_relu(4, width)
        self.f_res = nn.Sequential(*(ReluResBlock(width) for _ in range(cfg.attention_blocks)))
        self.f_recurrent = ConvLSTMCell(width, width)
        self.f_map = nn.Conv2d(width, 1, 3, padding=1)

    def forward(self, rainy: Tensor) -> list[Tensor]:
        attention = torch.full_like(rainy[:, :1], 0.5)
        state = self.f_recurrent.zero_state(rainy)
        maps = []
        for _ in range(self.steps):  # unrolled when traced
            features = self.f_res(self.f_in(torch.cat([rainy, attention], dim=1)))
            state = self.f_recurrent(features, state)
            attention = self.f_map(state[0])
            maps.append(attention)
        return maps


class ContextualAutoencoder(nn.Module):
    """[rainy, attention] -> clean image, with 1/4- and 1/2-size side outputs for the multi-scale loss."""

    def __init__(self, cfg: AGANConfig) -> None:
        super().__init__()
        full, half, quarter = cfg.widths
        self.enc_full = conv_relu(4, full, kernel=5)
        self.enc_half = nn.Sequential(conv_relu(full, half, stride=2), conv_relu(half, half))
        self.enc_quarter = nn.Sequential(
            conv_relu(half, quarter, stride=2),
            conv_relu(quarter, quarter),
            conv_relu(quarter, quarter),
            *(conv_relu(quarter, quarter, dilation=d) for d in cfg.dilations),
            conv_relu(quarter, quarter),
            conv_relu(quarter, quarter),
        )
        self.out_quarter = nn.Sequential(nn.Conv2d(quarter, 3, 3, padding=1), nn.ReLU())
        self.up_half = SmoothUpsample(quarter, half)
        self.dec_half = conv_relu(half, half)
        self.out_half = nn.Sequential(nn.Conv2d(half, 3, 3, padding=1), nn.ReLU())
        self.up_full = SmoothUpsample(half, full)
        self.dec_full = conv_relu(full, cfg.last_channels)
        self.out_full = nn.Conv2d(cfg.last_channels, 3, 3, padding=1)

    def forward(self, rainy: Tensor, attention: Tensor) -> list[Tensor]:
        """Returns the 1/4-size, 1/2-size and full-size images (inputs must be multiples of 4)."""
        skip_full = self.enc_full(torch.cat([rainy, attention], dim=1))
        skip_half = self.enc_half(skip_full)
        x = self.enc_quarter(skip_half)
        quarter = self.out_quarter(x)
        x = self.dec_half(self.up_half(x) + skip_half)
        half = self.out_half(x)
        x = self.dec_full(self.up_full(x) + skip_full)
        return [quarter, half, self.out_full(x)]


class AGANGenerator(nn.Module):
    def __init__(self, cfg: AGANConfig = AGANConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        self.attentive = AttentiveRecurrentNet(cfg)
        self.autoencoder = ContextualAutoencoder(cfg)

    def forward(self, rainy: Tensor) -> dict[str, Any]:
        """``rainy``: N x 3 x H x W in [0, 1], any size (padded to a multiple of 4 inside).

        Returns 'attention' (one N x 1 x H x W map per time step), 'scales' (the 1/4-size, 1/2-size
        and full-size outputs, each ceil(H / s) x ceil(W / s)), 'output' (the full-size one,
        unclamped, what the losses see) and 'derained' (it, clamped to [0, 1]).
        """
        padded, size = pad_to_multiple(rainy, self.cfg.pad_multiple)
        maps = self.attentive(padded)
        scales = self.autoencoder(padded, maps[-1])
        scales = [crop_to(s, (-(-size[0] // f), -(-size[1] // f))) for s, f in zip(scales, (4, 2, 1))]
        output = scales[-1]
        return {
            "attention": [crop_to(m, size) for m in maps],
            "scales": scales,
            "output": output,
            "derained": output.clamp(0, 1),
        }


class AGANDiscriminator(nn.Module):
    def __init__(self, cfg: AGANDiscriminatorConfig = AGANDiscriminatorConfig()) -> None:
        super().__init__()
        widths = (3, *cfg.widths)
        self.features = nn.Sequential(*(conv_relu(a, b, kernel=5) for a, b in zip(widths[:-1], widths[1:])))
        self.f_map = nn.Conv2d(widths[-1], 1, 5, padding=2)
        tail = (widths[-1], *cfg.tail_widths)
        self.tail = nn.Sequential(
            *(nn.Sequential(nn.Conv2d(a, b, 5, stride=4, padding=1), nn.ReLU()) for a, b in zip(tail[:-1], tail[1:])),
            nn.AdaptiveAvgPool2d(cfg.fc_grid),
            nn.Flatten(),
            nn.Linear(tail[-1] * cfg.fc_grid**2, cfg.fc_hidden),
            nn.Linear(cfg.fc_hidden, 1),
        )

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor]:
        """``image``: N x 3 x H x W (H, W >= 11). Returns the attention map (N x 1 x H x W) and the
        real/fake logit (N x 1; sigmoid of it is the code's probability)."""
        x = self.features(image)
        attention = self.f_map(x)
        return attention, self.tail(x * attention)
