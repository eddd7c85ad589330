"""MobileNetV2 backbone for DeepLabv3+ on a CPU budget, with VainF's module names.

VainF/DeepLabV3Plus-Pytorch splits torchvision's MobileNetV2 ``features`` into
``low_level_features`` (features[0:4], stride 4, 24 channels: the decoder's skip) and
``high_level_features`` (features[4:-1], 320 channels; the 1280-channel head is dropped), so its
``deeplabv3plus_mobilenet`` keys load here. Output stride 16 replaces the stride of the
160-channel stage with dilation 2, as DeepLab does. Padding is the usual ``dilation`` on every
3x3 conv (VainF pads by hand in ``forward``; the keys are the same).
"""

from __future__ import annotations

from torch import Tensor, nn

# (expansion t, channels c, repeats n, stride s) of MobileNetV2 (Sandler et al. 2018, Table 2).
SETTINGS: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


class ConvBNReLU6(nn.Sequential):
    def __init__(
        self, in_ch: int, out_ch: int, kernel: int = 3, stride: int = 1, dilation: int = 1, groups: int = 1
    ) -> None:
        pad = dilation * (kernel - 1) // 2
        super().__init__(
            nn.Conv2d(in_ch, out_ch, kernel, stride, pad, dilation=dilation, groups=groups, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    """1x1 expand, 3x3 depthwise, 1x1 linear projection; identity shortcut when shapes allow."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, dilation: int, expansion: int) -> None:
        super().__init__()
        hidden = in_ch * expansion
        self.use_shortcut = stride == 1 and in_ch == out_ch
        layers: list[nn.Module] = [ConvBNReLU6(in_ch, hidden, 1)] if expansion != 1 else []
        layers += [
            ConvBNReLU6(hidden, hidden, 3, stride, dilation, groups=hidden),
            nn.Conv2d(hidden, out_ch, 1, bias=False),
            nn.BatchNorm2d(out_ch),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv(x) if self.use_shortcut else self.conv(x)


class MobileNetV2Backbone(nn.Module):
    """Returns (low-level feature at stride 4, last feature at ``output_stride``), like ``ResNet``."""

    low_level_channels = 24
    out_channels = 320

    def __init__(self, output_stride: int = 16) -> None:
        super().__init__()
        if output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride}")
        features: list[nn.Module] = [ConvBNReLU6(3, 32, stride=2)]
        in_ch, current_stride, dilation = 32, 2, 1
        for expansion, out_ch, repeats, stride in SETTINGS:
            previous_dilation = dilation
            if current_stride == output_stride:  # deeper stages dilate instead of striding
                dilation *= stride
                stride = 1
            else:
                current_stride *= stride
            for i in range(repeats):
                features.append(
                    InvertedResidual(
                        in_ch, out_ch, stride if i == 0 else 1, previous_dilation if i == 0 else dilation, expansion
                    )
                )
                in_ch = out_ch
        self.low_level_features = nn.Sequential(*features[:4])
        self.high_level_features = nn.Sequential(*features[4:])

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        low = self.low_level_features(x)
        return low, self.high_level_features(low)
