"""ResNet backbones for DeepLabv3+, with torchvision's module names so that published weights load.

torchvision is not a dependency (its wheels pin one torch build); the layout below reproduces
torchvision's ResNet v1.5 keys (conv1, bn1, layer1..layer4, downsample.0/1) without the classifier.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from derain_seg_ros.nets.layers import check_output_stride


class BasicBlock(nn.Module):
    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, dilation: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, padding=dilation, dilation=dilation, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)

    expansion = 1  # output channels per planes


class Bottleneck(nn.Module):
    """Stride on the 3x3 conv (ResNet v1.5), as torchvision and the published checkpoints."""

    expansion = 4

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, dilation: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


@dataclass(frozen=True)
class ResNetSpec:
    block: type[BasicBlock] | type[Bottleneck]
    layers: tuple[int, int, int, int]
    width: int = 64


SPECS: dict[str, ResNetSpec] = {
    "resnet101": ResNetSpec(Bottleneck, (3, 4, 23, 3)),
    "resnet50": ResNetSpec(Bottleneck, (3, 4, 6, 3)),
    "resnet18": ResNetSpec(BasicBlock, (2, 2, 2, 2)),
    "tiny": ResNetSpec(BasicBlock, (1, 1, 1, 1), width=8),
}


class ResNet(nn.Module):
    """Returns (layer1, layer4): the low-level feature at stride 4 and the last one at ``output_stride``.

    Dilation replaces stride in the last layer (OS 16) or the last two (OS 8), as DeepLab does.
    """

    def __init__(self, name: str = "resnet101", output_stride: int = 16) -> None:
        super().__init__()
        if name not in SPECS:
            raise ValueError(f"unknown backbone {name!r}; choose one of {sorted(SPECS)}")
        check_output_stride(output_stride)
        spec = SPECS[name]
        dilate = {8: (False, True, True), 16: (False, False, True), 32: (False, False, False)}[output_stride]
        self.inplanes, self.dilation = spec.width, 1
        self.conv1 = nn.Conv2d(3, spec.width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(spec.width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(spec.block, spec.width, spec.layers[0])
        self.layer2 = self._make_layer(spec.block, spec.width * 2, spec.layers[1], 2, dilate[0])
        self.layer3 = self._make_layer(spec.block, spec.width * 4, spec.layers[2], 2, dilate[1])
        self.layer4 = self._make_layer(spec.block, spec.width * 8, spec.layers[3], 2, dilate[2])
        self.low_level_channels = spec.width * spec.block.expansion
        self.out_channels = spec.width * 8 * spec.block.expansion

    def _make_layer(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        planes: int,
        blocks: int,
        stride: int = 1,
        dilate: bool = False,
    ) -> nn.Sequential:
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, previous_dilation, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, dilation=self.dilation) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        layer1 = self.layer1(x)
        return layer1, self.layer4(self.layer3(self.layer2(layer1)))
