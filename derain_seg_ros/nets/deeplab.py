"""DeepLabv3+ with the feature taps that the semantic loss L_H compares.

Module names follow VainF/DeepLabV3Plus-Pytorch (``backbone.*``, ``classifier.project``,
``classifier.aspp.convs.0..4``, ``classifier.aspp.project``, ``classifier.classifier``) so that its
published Cityscapes checkpoint loads by key and a user who has it can skip stage 0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from derain_seg_ros.nets.config import DeepLabConfig
from derain_seg_ros.nets.efficientnet_lite import VARIANTS as LITE_VARIANTS
from derain_seg_ros.nets.efficientnet_lite import EfficientNetLite
from derain_seg_ros.nets.mobilenet import MobileNetV2Backbone
from derain_seg_ros.nets.outputs import SegmentationOutput
from derain_seg_ros.nets.resnet import ResNet

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _conv_bn_relu(in_ch: int, out_ch: int, kernel: int = 1, dilation: int = 1) -> list[nn.Module]:
    pad = dilation if kernel == 3 else 0
    return [
        nn.Conv2d(in_ch, out_ch, kernel, padding=pad, dilation=dilation, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    ]


class ASPPPooling(nn.Sequential):
    """Image-level branch: global average, 1x1 conv, broadcast back to the feature size."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__(nn.AdaptiveAvgPool2d(1), *_conv_bn_relu(in_ch, out_ch))

    def forward(self, x: Tensor) -> Tensor:
        return F.interpolate(super().forward(x), size=x.shape[-2:], mode="bilinear", align_corners=False)


class ASPP(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, rates: tuple[int, int, int]) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            [nn.Sequential(*_conv_bn_relu(in_ch, out_ch))]
            + [nn.Sequential(*_conv_bn_relu(in_ch, out_ch, 3, rate)) for rate in rates]
            + [ASPPPooling(in_ch, out_ch)]
        )
        self.project = nn.Sequential(*_conv_bn_relu(5 * out_ch, out_ch), nn.Dropout(0.1))

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        branches = tuple(conv(x) for conv in self.convs)
        return self.project(torch.cat(branches, dim=1)), branches


class DeepLabHeadV3Plus(nn.Module):
    def __init__(self, in_ch: int, low_level_ch: int, cfg: DeepLabConfig) -> None:
        super().__init__()
        self.project = nn.Sequential(*_conv_bn_relu(low_level_ch, cfg.low_level_channels))
        self.aspp = ASPP(in_ch, cfg.aspp_channels, cfg.aspp_rates)
        self.classifier = nn.Sequential(
            *_conv_bn_relu(cfg.low_level_channels + cfg.aspp_channels, cfg.aspp_channels, 3),
            nn.Conv2d(cfg.aspp_channels, cfg.num_classes, 1),
        )

    def forward(self, low_level: Tensor, high_level: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        low = self.project(low_level)
        aspp, branches = self.aspp(high_level)
        aspp = F.interpolate(aspp, size=low.shape[-2:], mode="bilinear", align_corners=False)
        return self.classifier(torch.cat([low, aspp], dim=1)), branches


def build_backbone(cfg: DeepLabConfig) -> nn.Module:
    """A ResNet, or MobileNetV2 / EfficientNet-Lite for CPU budgets; each returns (low-level, last) features."""
    if cfg.backbone in LITE_VARIANTS:
        return EfficientNetLite(cfg.backbone, cfg.output_stride)
    if cfg.backbone == "mobilenetv2":
        return MobileNetV2Backbone(cfg.output_stride)
    return ResNet(cfg.backbone, cfg.output_stride)


class DeepLabV3Plus(nn.Module):
    """Takes an image in [0, 1] of any size; normalises it as ``cfg.input_norm`` says, in the graph."""

    def __init__(self, cfg: DeepLabConfig = DeepLabConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone = build_backbone(cfg)
        self.classifier = DeepLabHeadV3Plus(self.backbone.out_channels, self.backbone.low_level_channels, cfg)
        # The statistics the backbone's ImageNet weights were trained with (EfficientNet-Lite: [-1, 1]).
        mean, std = (
            getattr(self.backbone, "input_mean", IMAGENET_MEAN),
            getattr(self.backbone, "input_std", IMAGENET_STD),
        )
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def normalise(self, image: Tensor) -> Tensor:
        """The authors min-max normalise the derained image before the backbone's mean/std; per image by
        default here, so that batching camera frames together never changes a frame's labels."""
        if self.cfg.input_norm == "clamp":
            x = image.clamp(0, 1)
        else:
            dims = (1, 2, 3) if self.cfg.input_norm == "minmax_image" else (0, 1, 2, 3)
            low = image.amin(dim=dims, keepdim=True)
            high = image.amax(dim=dims, keepdim=True)
            x = (image - low) / (high - low).clamp_min(1e-6)
        return (x - self.mean) / self.std

    def forward(self, image: Tensor) -> SegmentationOutput:
        layer1, layer4 = self.backbone(self.normalise(image))
        logits, branches = self.classifier(layer1, layer4)
        logits = F.interpolate(logits, size=image.shape[-2:], mode="bilinear", align_corners=False)
        return SegmentationOutput(logits=logits, aspp=branches, layer1=layer1, layer4=layer4)
