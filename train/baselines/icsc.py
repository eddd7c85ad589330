"""ICSC: "I Can See Clearly Now: image restoration via de-raining" (Porav, Bruls, Newman; ICRA 2019),
its de-raining generator and PatchGAN discriminator.

The generator is an encoder-decoder: stride-2 down-convolutions to 1/16 size, residual blocks
there, and transposed-conv up-convolutions that see the encoder feature of the same size through
concatenated skips; the discriminator is a PatchGAN whose interior features also drive the
feature-matching loss.

Sources: the authors published no code, and the paper's text is not in this project's reference
stores, so the sizes come from the one public re-implementation, maxsuel-fa/i-can-see-clearly-now
(``src/models/networks.py``; weights in ``src/options/options.py`` and ``src/models/losses.py``),
which is also the generator family of the paper's coarse network:
- generator: ngf 32; 4 down-convs (conv3x3/2, InstanceNorm, LeakyReLU 0.2) 3 -> 32 -> 64 -> 128
  -> 256; 9 residual blocks at 256 (conv3x3 + IN + LeakyReLU, dropout 0.5, conv3x3 + IN, added
  to the input); 4 up-convs (transposed conv3x3/2, IN, LeakyReLU) 256 -> 128, [128 + skip 128]
  -> 64, [64 + skip 64] -> 32, 32 -> 3 (skips from the 2nd and 3rd down-convs only). About 11.5 M
  parameters;
- discriminator: 5 conv4x4 layers, ndf 32: stride 2, 2, 2, 1, 1; 3 -> 32 -> 64 -> 128 -> 256 -> 1.

Deviations, on purpose (each a fix of the re-implementation, not a change of size):
- its last up-conv ends in InstanceNorm + LeakyReLU, which cannot output an image (every image
  would have zero mean per channel); here the last up-conv ends in tanh, mapped to [0, 1];
- its discriminator normalises the first layer and squashes the last through BN + LeakyReLU;
  here, as in pix2pix's PatchGAN, the first layer has no norm and the last is a plain conv whose
  output is the least-squares GAN's score map.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from derain_seg_ros.nets.padding import crop_to, pad_to_multiple


@dataclass(frozen=True)
class ICSCConfig:
    """The generator: a pix2pixHD-style encoder, residual blocks at 1/16 size and a decoder
    (sizes of Porav et al.'s public code)."""

    ngf: int = 32
    downsamplings: int = 4
    res_blocks: int = 9
    dropout: float = 0.5

    def __post_init__(self) -> None:
        if self.ngf < 1 or self.downsamplings < 2 or self.res_blocks < 0 or not 0 <= self.dropout < 1:
            raise ValueError(
                f"ICSCConfig needs ngf >= 1, downsamplings >= 2, res_blocks >= 0, 0 <= dropout < 1; got {self}"
            )

    @property
    def pad_multiple(self) -> int:
        return 2**self.downsamplings

    @classmethod
    def embedded(cls) -> ICSCConfig:
        """For the embedded preset's CPU budget: the paper size itself (its residual blocks run at
        1/16 size, so it is the cheapest of the four per pixel)."""
        return cls()

    @classmethod
    def small(cls) -> ICSCConfig:
        """For tests and the smoke preset: three down-convs, one block, ngf 4; dropout kept (it is
        what makes exact resume depend on the saved random state)."""
        return cls(ngf=4, downsamplings=3, res_blocks=1)


@dataclass(frozen=True)
class ICSCDiscriminatorConfig:
    ndf: int = 32
    strided_layers: int = 3

    def __post_init__(self) -> None:
        if self.ndf < 1 or self.strided_layers < 1:
            raise ValueError(f"ICSCDiscriminatorConfig needs ndf >= 1 and strided_layers >= 1, got {self}")

    @classmethod
    def embedded(cls) -> ICSCDiscriminatorConfig:
        return cls()  # paper size: cheap next to the generator

    @classmethod
    def small(cls) -> ICSCDiscriminatorConfig:
        return cls(ndf=4)


def down(in_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, stride=2, padding=1), nn.InstanceNorm2d(out_ch), nn.LeakyReLU(0.2))


def up(in_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(in_ch, out_ch, 3, stride=2, padding=1, output_padding=1),
        nn.InstanceNorm2d(out_ch),
        nn.LeakyReLU(0.2),
    )


class ResBlock(nn.Module):
    def __init__(self, channels: int, dropout: float) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.InstanceNorm2d(channels),
            nn.LeakyReLU(0.2),
            nn.Dropout(dropout),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.InstanceNorm2d(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ICSCGenerator(nn.Module):
    def __init__(self, cfg: ICSCConfig = ICSCConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        widths = [cfg.ngf * 2**i for i in range(cfg.downsamplings)]  # 32, 64, 128, 256
        self.down = nn.ModuleList(down(a, b) for a, b in zip([3, *widths[:-1]], widths))
        self.blocks = nn.Sequential(*(ResBlock(widths[-1], cfg.dropout) for _ in range(cfg.res_blocks)))
        # Up-conv k (k = 0 .. d-2) maps to the width of down-conv d-2-k; all but the first also take
        # the skip of that width, concatenated. The last one maps to the image.
        self.up = nn.ModuleList(
            up(widths[-1 - k] * (1 if k == 0 else 2), widths[-2 - k]) for k in range(cfg.downsamplings - 1)
        )
        self.to_image = nn.Sequential(
            nn.ConvTranspose2d(widths[0], 3, 3, stride=2, padding=1, output_padding=1),
            nn.Tanh(),
        )

    def forward(self, rainy: Tensor) -> dict[str, Any]:
        """``rainy``: N x 3 x H x W in [0, 1], any size (padded to ``cfg.pad_multiple``
        inside, to twice that when a side is no larger: InstanceNorm needs two pixels at the bottleneck).
        Returns 'output' and 'derained' (the same image, already in [0, 1])."""
        multiple = self.cfg.pad_multiple
        if min(rainy.shape[-2:]) <= multiple:  # fixed by the input size, like the padding itself
            multiple *= 2
        padded, size = pad_to_multiple(rainy, multiple)
        skips = []
        x = padded
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        x = self.up[0](self.blocks(x))
        for layer, skip in zip(self.up[1:], reversed(skips[1:-1])):
            x = layer(torch.cat([x, skip], dim=1))
        output = crop_to((self.to_image(x) + 1) / 2, size)
        return {"output": output, "derained": output}


class ICSCDiscriminator(nn.Module):
    """PatchGAN: every output pixel scores one receptive-field patch as clean (1) or derained (0)."""

    def __init__(self, cfg: ICSCDiscriminatorConfig = ICSCDiscriminatorConfig()) -> None:
        super().__init__()
        widths = [cfg.ndf * 2**i for i in range(cfg.strided_layers + 1)]  # 32, 64, 128, 256
        layers: list[nn.Module] = [nn.Sequential(nn.Conv2d(3, widths[0], 4, stride=2, padding=1), nn.LeakyReLU(0.2))]
        for i in range(1, len(widths)):
            stride = 2 if i < cfg.strided_layers else 1
            layers.append(
                nn.Sequential(
                    nn.Conv2d(widths[i - 1], widths[i], 4, stride=stride, padding=1),
                    nn.BatchNorm2d(widths[i]),
                    nn.LeakyReLU(0.2),
                )
            )
        layers.append(nn.Conv2d(widths[-1], 1, 4, padding=1))
        self.layers = nn.ModuleList(layers)

    def forward(self, image: Tensor) -> list[Tensor]:
        """``image``: N x 3 x H x W (H, W >= 24). Returns every layer's output; the last is the
        N x 1 x h x w score map, the others are the features the feature-matching loss compares."""
        outputs = []
        x = image
        for layer in self.layers:
            x = layer(x)
            outputs.append(x)
        return outputs
