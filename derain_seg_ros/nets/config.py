"""Sizes of every network, in one place, so that training, export and the node build the same graph.

Defaults follow the authors' public code (see PAPER.md, "What the authors' public code adds").
``PipelineConfig.small()`` is the tiny variant used by tests and the CPU smoke runs;
``PipelineConfig.embedded()`` the model that ships in the package (trained on 2 CPU cores).

``derainer`` names the deraining network in front of DeepLab: ours (A -> C -> SRRN) or one of the
paper's four baselines, whose sizes sit beside ours. Each preset takes the derainer and gives it
that preset's widths (paper, ``embedded()``, ``small()``); the fields of the networks a pipeline
does not build keep their defaults, so ``PipelineConfig.embedded()`` is the same config whether or
not a checkpoint predates the baselines.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from typing import Any, ClassVar, Literal, get_args

from derain_seg_ros.nets.agan import AGANConfig
from derain_seg_ros.nets.durn import DuRNSPConfig
from derain_seg_ros.nets.icsc import ICSCConfig
from derain_seg_ros.nets.prenet import PReNetConfig

BackboneName = Literal["resnet101", "resnet50", "resnet18", "mobilenetv2", "efficientnet_lite0", "efficientnet_lite1",
                       "efficientnet_lite2", "tiny"]
LFLayer = Literal["layer1", "layer4"]
SegInputNorm = Literal["minmax_image", "minmax_batch", "clamp"]
DerainerName = Literal["ours", "prenet", "durn", "agan", "icsc"]
Bypass = Literal["none", "derain", "refine"]


@dataclass(frozen=True)
class AttentionConfig:
    """A: conv 3->channels, ``blocks`` residual blocks at full resolution, conv channels->1, sigmoid."""

    channels: int = 32
    blocks: int = 5
    # A scene-level term: the image-mean of A's features shifts every logit of M (the authors' A
    # sees 25 x 25 pixels, 17 x 17 at embedded widths: too few to tell drizzle from heavy rain).
    # Measured at the embedded budget and not adopted there (README, "Scene context in A").
    scene_context: bool = False


@dataclass(frozen=True)
class CoarseConfig:
    """C: pix2pixHD-style global generator on rainy (+) M (4 channels)."""

    ngf: int = 16
    downsamplings: int = 4
    blocks: int = 9
    max_channels: int = 256
    # False: the authors' C redraws the image; True: C adds a zero-initialised correction to I_r.
    residual: bool = False
    gate: bool = False  # residual only: the correction is multiplied by the rain map M


@dataclass(frozen=True)
class SRRBConfig:
    """One SRRB: U-Net branch + full-resolution branch, summed into a residual."""

    unet_ngf: int = 16
    unet_downsamplings: int = 4
    unet_max_channels: int = 256
    full_channels: int = 32
    full_blocks: int = 2


@dataclass(frozen=True)
class DeepLabConfig:
    """DeepLabv3+ at output stride 16, key-compatible with VainF/DeepLabV3Plus-Pytorch."""

    backbone: BackboneName = "resnet101"
    num_classes: int = 19
    output_stride: int = 16
    aspp_channels: int = 256
    aspp_rates: tuple[int, int, int] = (6, 12, 18)
    low_level_channels: int = 48
    # How the derained image is brought to DeepLab's input range (authors: per-batch min-max,
    # then ImageNet mean/std). Per-image is the default so that batching cameras changes nothing.
    input_norm: SegInputNorm = "minmax_image"


@dataclass(frozen=True)
class PipelineConfig:
    attention: AttentionConfig = field(default_factory=AttentionConfig)
    coarse: CoarseConfig = field(default_factory=CoarseConfig)
    srrb: SRRBConfig = field(default_factory=SRRBConfig)
    num_srrb: int = 2
    deeplab: DeepLabConfig = field(default_factory=DeepLabConfig)
    # Which network derains: "ours" (attention, coarse, srrb, num_srrb above) or a baseline, built
    # from its field below. Checkpoints from before this field load as "ours".
    derainer: DerainerName = "ours"
    prenet: PReNetConfig = field(default_factory=PReNetConfig)
    durn: DuRNSPConfig = field(default_factory=DuRNSPConfig)
    agan: AGANConfig = field(default_factory=AGANConfig)
    icsc: ICSCConfig = field(default_factory=ICSCConfig)
    # At inference, every pixel's correction (derained - rainy) moves this many grey levels (of 255)
    # toward zero (a soft threshold): corrections smaller than that are not made at all, so a dry
    # frame's sub-level noise no longer rounds into whole-level errors. Training sees the raw
    # correction (below the threshold there is no gradient, and a zero-initialised residual starts
    # there). 0: off, the paper's pipeline. Measured in the README, "Shrinking the correction".
    correction_shrink: float = 0.0
    # At inference, parts of the same graph left out, so a user compares on their own frames:
    # "derain" (the segmenter alone on the raw frame, `infer --no-derain`), "refine" (A -> C ->
    # DeepLab, the SRRN bypassed, `infer --no-refine`); "none" runs everything.
    bypass: Bypass = "none"
    # Settings no weight depends on: a training run resumes under a new value of them.
    INFERENCE_ONLY: ClassVar[frozenset[str]] = frozenset({"correction_shrink", "bypass"})

    def __post_init__(self) -> None:
        if self.derainer not in get_args(DerainerName):
            raise ValueError(f"unknown derainer {self.derainer!r}; choose one of {list(get_args(DerainerName))}")
        if self.bypass not in get_args(Bypass):
            raise ValueError(f"unknown bypass {self.bypass!r}; choose one of {list(get_args(Bypass))}")
        if not (math.isfinite(self.correction_shrink) and self.correction_shrink >= 0):
            raise ValueError(f"correction_shrink is in grey levels and must be >= 0, got {self.correction_shrink}")

    @property
    def pad_multiple(self) -> int:
        """Every input is padded to this multiple of pixels inside the graph and cropped back
        (a baseline pads inside its own forward, to its own multiple)."""
        if self.derainer != "ours":
            return getattr(self, self.derainer).pad_multiple
        return math.lcm(
            2**self.coarse.downsamplings,
            2**self.srrb.unet_downsamplings,
            self.deeplab.output_stride,
        )

    @classmethod
    def paper(cls, derainer: DerainerName = "ours") -> "PipelineConfig":
        """The paper's networks (the defaults), ``derainer`` in front of DeepLab at its paper widths."""
        return cls(derainer=derainer)

    @classmethod
    def small(cls, derainer: DerainerName = "ours") -> "PipelineConfig":
        """A few-thousand-parameter pipeline for tests and CPU smoke runs (same wiring)."""
        return _with_derainer(cls(
            attention=AttentionConfig(channels=8, blocks=1),
            coarse=CoarseConfig(ngf=8, downsamplings=2, blocks=1, max_channels=32),
            srrb=SRRBConfig(unet_ngf=8, unet_downsamplings=2, unet_max_channels=32, full_channels=8, full_blocks=2),
            num_srrb=2,
            deeplab=DeepLabConfig(backbone="tiny", aspp_channels=16, low_level_channels=8),
        ), derainer, "small")

    @classmethod
    def embedded(cls, derainer: DerainerName = "ours") -> "PipelineConfig":
        """The shipped model: trains on 2 CPU cores in about an hour, runs on a vehicle CPU/GPU.

        Same wiring as the paper; a residual C gated by the rain map (identity at start, and pixels
        that A marks dry are left alone: measured in train/RESULTS.md), narrower U-Nets,
        DeepLabv3+ on MobileNetV2 (VainF's layout) instead of ResNet-101, and the correction shrunk
        by half a grey level at inference (README, "Shrinking the correction").
        A baseline ``derainer`` gets its own ``embedded()`` widths, in front of the same DeepLab.
        """
        return _with_derainer(cls(
            attention=AttentionConfig(channels=16, blocks=3),
            coarse=CoarseConfig(ngf=16, downsamplings=4, blocks=4, max_channels=128, residual=True, gate=True),
            srrb=SRRBConfig(unet_ngf=16, unet_downsamplings=4, unet_max_channels=64, full_channels=16, full_blocks=2),
            num_srrb=2,
            deeplab=DeepLabConfig(backbone="mobilenetv2", aspp_channels=128, low_level_channels=48),
            correction_shrink=0.5,
        ), derainer, "embedded")

    @classmethod
    def streets(cls) -> "PipelineConfig":
        """The default shipped model, for real street photos at camera resolution (360 x 480 and up).

        The embedded deraining networks in front of DeepLabv3+ on EfficientNet-Lite0, whose
        ImageNet weights start stage 0 (a backbone that has seen real photos; MobileNetV2 from
        scratch on cartoons scored 15 % mIoU on real streets).
        """
        embedded = cls.embedded()
        return replace(embedded, deeplab=DeepLabConfig(backbone="efficientnet_lite0", aspp_channels=128, low_level_channels=48))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PipelineConfig":
        """Inverse of ``to_dict``; unknown keys are an error, not silently dropped."""
        return _build(cls, data)


def _with_derainer(cfg: PipelineConfig, derainer: DerainerName, preset: Literal["embedded", "small"]) -> PipelineConfig:
    """``cfg`` with ``derainer`` in front of DeepLab at the preset's widths (ours: ``cfg`` itself)."""
    if derainer == "ours":
        return cfg
    if derainer not in get_args(DerainerName):
        raise ValueError(f"unknown derainer {derainer!r}; choose one of {list(get_args(DerainerName))}")
    sizes = getattr(type(getattr(cfg, derainer)), preset)()
    return replace(cfg, derainer=derainer, **{derainer: sizes})


def _build(kind: type, data: dict[str, Any]) -> Any:
    known = {f.name: f for f in fields(kind)}
    unknown = set(data) - set(known)
    if unknown:
        raise KeyError(f"{kind.__name__}: unknown keys {sorted(unknown)}; known: {sorted(known)}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        default = known[name].default_factory() if callable(known[name].default_factory) else known[name].default  # type: ignore[misc]
        if is_dataclass(default) and isinstance(value, dict):
            kwargs[name] = _build(type(default), value)
        else:
            kwargs[name] = _tuples(value)
    return kind(**kwargs)


def _tuples(value: Any) -> Any:
    """Lists (a config read back from JSON or YAML) as the tuples the frozen configs hold, nested too."""
    return tuple(_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value
