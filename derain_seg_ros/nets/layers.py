"""Small building blocks shared by A, C and the SRRB (one figure's worth of vocabulary)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def conv_bn_relu(in_ch: int, out_ch: int, kernel: int = 3, stride: int = 1, reflect: bool = True) -> nn.Sequential:
    """Conv + BN + ReLU; reflection padding (as the authors' code) avoids dark borders on images."""
    pad = kernel // 2
    layers: list[nn.Module] = []
    if reflect and pad and stride == 1:
        layers.append(nn.ReflectionPad2d(pad))
        pad = 0
    layers += [
        nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=pad),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    ]
    return nn.Sequential(*layers)


def up_bn_relu(in_ch: int, out_ch: int) -> nn.Sequential:
    """Transposed conv that exactly doubles the size (pix2pixHD's upsampling step)."""
    return nn.Sequential(
        nn.ConvTranspose2d(in_ch, out_ch, 3, stride=2, padding=1, output_padding=1),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    )


class ResidualBlock(nn.Module):
    """Two reflection-padded 3x3 conv + BN, added to the input (pix2pixHD ResnetBlock)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class SkipUNet(nn.Module):
    """Encoder of stride-2 convs, optional residual bottleneck, decoder of transposed convs whose
    outputs are concatenated with the encoder feature of the same size, then a 7x7 conv and tanh.

    Shared by C (pix2pixHD global generator with skips) and the SRRB's U-Net branch, which the
    authors' code builds from the same generator family. Inputs must be multiples of 2**downsamplings.
    """

    def __init__(self, in_ch: int, out_ch: int, ngf: int, downsamplings: int, max_channels: int, blocks: int) -> None:
        super().__init__()
        widths = [min(ngf * 2**i, max_channels) for i in range(downsamplings + 1)]
        self.stem = nn.Sequential(
            nn.ReflectionPad2d(3), nn.Conv2d(in_ch, ngf, 7), nn.BatchNorm2d(ngf), nn.ReLU(inplace=True)
        )
        self.down = nn.ModuleList(conv_bn_relu(widths[i], widths[i + 1], stride=2) for i in range(downsamplings))
        self.bottleneck = nn.Sequential(*(ResidualBlock(widths[-1]) for _ in range(blocks)))
        # Decoder level i takes the previous output (concatenated with its skip, except the first).
        self.up = nn.ModuleList(
            up_bn_relu(widths[i + 1] * (1 if i == downsamplings - 1 else 2), widths[i])
            for i in reversed(range(downsamplings))
        )
        self.head = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(2 * ngf, out_ch, 7), nn.Tanh())

    def forward(self, x: Tensor) -> Tensor:
        skips = [self.stem(x)]
        for down in self.down:
            skips.append(down(skips[-1]))
        y = self.bottleneck(skips.pop())
        for up in self.up:
            y = torch.cat([up(y), skips.pop()], dim=1)
        return self.head(y)


def check_output_stride(output_stride: int) -> None:
    """A backbone reaches DeepLab's output strides 8, 16 or 32 by dilating its last stages instead of striding."""
    if output_stride not in (8, 16, 32):
        raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride}")
