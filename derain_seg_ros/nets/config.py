"""Sizes of the shipped graph (A -> C -> SRRN -> DeepLabv3+), in one place, so that training,
export and the node build the same networks.

Defaults follow the authors' public code (docs/paper.md). ``PipelineConfig.small()`` is the tiny
variant used by tests and the CPU smoke runs; ``embedded()`` and ``streets()`` the models that ship
in the package. Every model setting is a field here and nowhere else: training configs set it by
its dotted key (``model.coarse.residual=true``), see ``with_settings``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from typing import Any, ClassVar, Literal, get_args

BackboneName = Literal[
    "resnet101",
    "resnet50",
    "resnet18",
    "mobilenetv2",
    "efficientnet_lite0",
    "efficientnet_lite1",
    "efficientnet_lite2",
    "tiny",
]
LFLayer = Literal["layer1", "layer4"]
SegInputNorm = Literal["minmax_image", "minmax_batch", "clamp"]
Bypass = Literal["none", "derain", "refine"]


@dataclass(frozen=True)
class AttentionConfig:
    """A: conv 3->channels, ``blocks`` residual blocks at full resolution, conv channels->1, sigmoid."""

    channels: int = 32
    blocks: int = 5


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
    # A per-frame gain and offset per channel (nets/tone.py) applied to I_r before C: the veil. Not gated by M.
    tone: bool = False
    # tone only: the gain and offset also vary over a coarse grid (1/32 of the frame), for haze that thickens with depth.
    tone_grid: bool = False
    # gate only: a scale on the gated correction, per frame and per cell of a 1/32 grid (nets/trust.py), fitted
    # behind the finished A and C: holds back a correction that harms a nearly clean frame.
    trust: bool = False
    # gate only: the correction is gated by M^gate_power. Below 1 the gate opens where A's map is low but not zero:
    # on the glass pane A's map exceeds 0.5 on only 43 % of the drops' pixels, which hold 99 % of the error
    # (train/RESULTS.md). No weights: set behind a finished C (stage 2, whose trust fit sees it), not while C trains.
    gate_power: float = 1.0


@dataclass(frozen=True)
class SRRBConfig:
    """One SRRB: a U-Net branch and a full-resolution branch (the U-Net's detail lost to pooling),
    summed into a residual."""

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
    # At inference, every pixel's correction (derained - rainy) moves this many grey levels (of 255)
    # toward zero (a soft threshold): corrections smaller than that are not made at all, so a dry
    # frame's sub-level noise no longer rounds into whole-level errors. Training sees the raw
    # correction (below the threshold there is no gradient, and a zero-initialised residual starts
    # there). 0: off, the paper's pipeline. Measured in docs/results.md, "Shrinking the correction".
    correction_shrink: float = 0.0
    # At inference, parts of the same graph left out, so a user compares on their own frames:
    # "derain" (the segmenter alone on the raw frame, `infer --no-derain`), "refine" (A -> C ->
    # DeepLab, the SRRN bypassed, `infer --no-refine`); "none" runs everything.
    bypass: Bypass = "none"
    # Settings no weight depends on: a training run resumes under a new value of them.
    INFERENCE_ONLY: ClassVar[frozenset[str]] = frozenset({"correction_shrink", "bypass"})

    def __post_init__(self) -> None:
        if self.bypass not in get_args(Bypass):
            raise ValueError(f"unknown bypass {self.bypass!r}; choose one of {list(get_args(Bypass))}")
        if not (math.isfinite(self.correction_shrink) and self.correction_shrink >= 0):
            raise ValueError(f"correction_shrink is in grey levels and must be >= 0, got {self.correction_shrink}")

    @property
    def pad_multiple(self) -> int:
        """Every input is padded to this multiple of pixels inside the graph and cropped back."""
        return math.lcm(
            2**self.coarse.downsamplings,
            2**self.srrb.unet_downsamplings,
            self.deeplab.output_stride,
        )

    @classmethod
    def paper(cls) -> PipelineConfig:
        """The paper's networks (the defaults)."""
        return cls()

    @classmethod
    def small(cls) -> PipelineConfig:
        """A few-thousand-parameter pipeline for tests and CPU smoke runs (same wiring)."""
        return cls(
            attention=AttentionConfig(channels=8, blocks=1),
            coarse=CoarseConfig(ngf=8, downsamplings=2, blocks=1, max_channels=32),
            srrb=SRRBConfig(unet_ngf=8, unet_downsamplings=2, unet_max_channels=32, full_channels=8, full_blocks=2),
            num_srrb=2,
            deeplab=DeepLabConfig(backbone="tiny", aspp_channels=16, low_level_channels=8),
        )

    @classmethod
    def embedded(cls) -> PipelineConfig:
        """The procedural-scene model: trains on 2 CPU cores in about an hour, runs on a vehicle CPU/GPU.

        Same wiring as the paper; a residual C gated by the rain map (identity at start, and pixels
        that A marks dry are left alone: measured in train/RESULTS.md), narrower U-Nets,
        DeepLabv3+ on MobileNetV2 (VainF's layout) instead of ResNet-101, and the correction shrunk
        by half a grey level at inference (docs/results.md, "Shrinking the correction").
        """
        return cls(
            attention=AttentionConfig(channels=16, blocks=3),
            coarse=CoarseConfig(ngf=16, downsamplings=4, blocks=4, max_channels=128, residual=True, gate=True),
            srrb=SRRBConfig(unet_ngf=16, unet_downsamplings=4, unet_max_channels=64, full_channels=16, full_blocks=2),
            num_srrb=2,
            deeplab=DeepLabConfig(backbone="mobilenetv2", aspp_channels=128, low_level_channels=48),
            correction_shrink=0.5,
        )

    @classmethod
    def streets(cls) -> PipelineConfig:
        """The default shipped model, for real street photos at camera resolution (360 x 480 and up).

        The embedded deraining networks in front of DeepLabv3+ on EfficientNet-Lite0, whose
        ImageNet weights start stage 0 (a backbone that has seen real photos; MobileNetV2 from
        scratch on cartoons scored 15 % mIoU on real streets), and C's tone head with its grid
        (nets/tone.py), which lifts the veil of car rain, thicker with depth, from the whole frame, and its
        trust head (nets/trust.py), which holds back C's correction where it would harm a nearly clean
        frame, behind C's gate opened to M^0.5 (train/RESULTS.md). No correction shrink: the trust head does
        that job here, and the shrink's half grey level made a light-rain frame worse (train/RESULTS.md).
        """
        embedded = cls.embedded()
        deeplab = DeepLabConfig(backbone="efficientnet_lite0", aspp_channels=128, low_level_channels=48)
        coarse = replace(embedded.coarse, tone=True, tone_grid=True, trust=True, gate_power=0.5)
        return replace(embedded, deeplab=deeplab, coarse=coarse, correction_shrink=0.0)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PipelineConfig:
        """Inverse of ``to_dict``, for every checkpoint written since the first: the keys of options
        since removed are dropped (``retired_keys``); any other unknown key is an error."""
        return from_plain(cls, drop_retired(data))


def drop_retired(data: Mapping[str, Any]) -> dict[str, Any]:
    """A stored config without the keys of options removed since it was written.

    Older checkpoints carry the paper's four baseline configs beside ours (``derainer: ours``, unused
    ``prenet``/``durn``/``agan``/``icsc``) and ``attention.scene_context: false``. A value that
    changed the graph (a baseline derainer, scene context on) is not dropped but refused: its weights
    need code this package no longer carries.
    """
    data = {k: v for k, v in data.items() if k not in RETIRED_BASELINE_KEYS}
    derainer = data.pop("derainer", "ours")
    if derainer != "ours":
        raise ValueError(
            f"this config is the paper's baseline {derainer!r} in front of DeepLab, a research network the package "
            "does not carry: load it with train.baselines (python train/baselines/export.py exports it to ONNX, "
            "which `derain-seg infer` and the node run)"
        )
    attention = dict(data.get("attention", {}))
    if attention.pop("scene_context", False):
        raise ValueError("this config has attention.scene_context on, an option measured and removed (docs/results.md)")
    if "attention" in data:
        data["attention"] = attention
    return data


RETIRED_BASELINE_KEYS = frozenset({"prenet", "durn", "agan", "icsc"})

# Switches that add a module whose fresh state is the identity: (network, field) -> the added weights'
# prefix inside that network. A checkpoint written without the module starts a run that has it.
GROWN_FIELDS: dict[tuple[str, str], str] = {
    ("coarse", "tone"): "tone.",
    ("coarse", "tone_grid"): "tone.local.",
    ("coarse", "trust"): "trust.",
}


# Settings that change no weight: a checkpoint written with another value loads (C trained with one gate power
# serves behind another).
WEIGHTLESS_FIELDS = {("coarse", "gate_power")}


def grown_prefixes(network: str, theirs: Mapping[str, Any], own: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The prefixes of the identity-at-start modules ``own`` adds to ``theirs`` (the configs of one
    network), () when they are equal or differ only in ``WEIGHTLESS_FIELDS``, None when they differ otherwise
    (the weights do not fit)."""
    grown = []
    for key in set(theirs) | set(own):
        if theirs.get(key) == own.get(key) or (network, key) in WEIGHTLESS_FIELDS:
            continue
        prefix = GROWN_FIELDS.get((network, key))
        if prefix is None or theirs.get(key, False) or not own.get(key):
            return None
        grown.append(prefix)
    return tuple(sorted(grown))


def with_settings(cfg: Any, settings: Mapping[str, Any]) -> Any:
    """``cfg`` (a frozen config) with each dotted key set: ``{"coarse.residual": True}``. A key that
    names no field is an error."""
    for key, value in settings.items():
        cfg = _replace_dotted(cfg, key.split("."), value, key)
    return cfg


def _replace_dotted(node: Any, path: list[str], value: Any, key: str) -> Any:
    head, *rest = path
    if not is_dataclass(node) or head not in {f.name for f in fields(node)}:
        raise KeyError(f"no network setting {key!r}")
    return replace(node, **{head: _replace_dotted(getattr(node, head), rest, value, key) if rest else _tuples(value)})


def from_plain(kind: type, data: Mapping[str, Any]) -> Any:
    """A (nested) frozen config from plain data, as ``asdict`` wrote it; unknown keys are an error."""
    known = {f.name: f for f in fields(kind)}
    unknown = set(data) - set(known)
    if unknown:
        raise KeyError(f"{kind.__name__}: unknown keys {sorted(unknown)}; known: {sorted(known)}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        f = known[name]
        default = f.default_factory() if callable(f.default_factory) else f.default  # type: ignore[misc]
        kwargs[name] = (
            from_plain(type(default), value) if is_dataclass(default) and isinstance(value, dict) else _tuples(value)
        )
    return kind(**kwargs)


def _tuples(value: Any) -> Any:
    """Lists (a config read back from JSON or YAML) as the tuples the frozen configs hold, nested too."""
    return tuple(_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value
