"""The jobs: stage 0 (DeepLab on clean images) and the pipeline stages of ``variants.py``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from derain_seg_ros.labels import IGNORE_ID
from derain_seg_ros.losses import pipeline_loss
from derain_seg_ros.nets.config import PipelineConfig, grown_prefixes, with_settings
from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.runtime.checkpoint import CheckpointError, load_vainf_deeplab, read_checkpoint
from derain_seg_ros.runtime.preprocess import to_float_nchw
from derain_seg_ros.runtime.shipped import DEFAULT_MODEL, shipped_checkpoint
from train.config import ConfigError, OptimConfig, TrainConfig
from train.datasets import class_weights, validation_items, validation_samples
from train.loop import Job, multistep, poly
from train.validation import GuardedMiou, psnr_validator
from train.variants import Stage

log = logging.getLogger("train")
PRESETS = {
    "default": PipelineConfig.paper,
    "embedded": PipelineConfig.embedded,
    "small": PipelineConfig.small,
    "streets": PipelineConfig.streets,
}


def pipeline_config(cfg: TrainConfig, num_srrb: int | None = None) -> PipelineConfig:
    """The preset's networks with the model section's settings on top (``num_srrb``: a stage's own)."""
    m = cfg.model
    if m.preset not in PRESETS:
        raise ConfigError(f"model.preset must be one of {sorted(PRESETS)}, got {m.preset!r}")
    networks = with_settings(PRESETS[m.preset](), m.settings)
    return networks if num_srrb is None else replace(networks, num_srrb=num_srrb)


def _init_path(value: str | None, what: str) -> Path:
    if value is None:
        raise CheckpointError(
            f"{what} is needed: set init.{what} to its checkpoint (e.g. runs/.../{what}/last.pt) "
            f"or to 'shipped' (the default packaged model) or 'shipped-embedded'"
        )
    if value.startswith("shipped"):  # 'shipped' (the default model) or 'shipped-<name>'
        return shipped_checkpoint(value.partition("-")[2] or DEFAULT_MODEL)
    return Path(value)


def _preset_of(config: dict[str, Any]) -> str:
    """The name of the preset whose networks a checkpoint's config describes (for error messages)."""
    for name, make in PRESETS.items():
        preset = make().to_dict()
        if all(config.get(k) == preset[k] for k in ("attention", "deeplab")):
            return name
    return "custom"


def load_submodules(pipeline: DerainSegPipeline, value: str | None, names: tuple[str, ...], what: str) -> None:
    """Copy ``names`` (e.g. attention, coarse) from a pipeline checkpoint into ``pipeline``."""
    path = _init_path(value, what)
    state = read_checkpoint(path)
    own = pipeline.cfg.to_dict()
    try:
        theirs = PipelineConfig.from_dict(state["config"]).to_dict()  # older files lack newer keys: defaults
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: unreadable network config: {exc}") from exc
    for name in names:
        grown = grown_prefixes(name, theirs[name], own[name])
        if grown is None:
            raise CheckpointError(
                f"init.{what}={path} holds {name} of the {_preset_of(theirs)!r} networks, but this run builds "
                f"{_preset_of(own)!r} ones (model.preset); give a checkpoint of the same preset"
            )
        prefix = f"{name}."
        sub = {k[len(prefix) :]: v for k, v in state["model"].items() if k.startswith(prefix)}
        if not sub:
            raise CheckpointError(f"{path} holds no {name} weights")
        missing, unexpected = getattr(pipeline, name).load_state_dict(sub, strict=False)
        if unexpected or any(not k.startswith(grown) for k in missing):  # only a grown module may be missing
            raise CheckpointError(f"{path}: {name} weights do not fit: missing {missing}, unexpected {unexpected}")
        if grown:
            log.info("init.%s: %s loaded; %s start at the identity (not in %s)", what, name, ", ".join(grown), path)


def load_stage0(cfg: TrainConfig, pipeline: DerainSegPipeline) -> None:
    """The frozen segmenter every deraining training sits in front of: stage 0's, or VainF's."""
    if cfg.stage0.vainf_checkpoint and not cfg.init.stage0:
        load_vainf_deeplab(cfg.stage0.vainf_checkpoint, pipeline)
    else:
        load_submodules(pipeline, cfg.init.stage0, ("deeplab",), "stage0")


def _load_imagenet_backbone(pipeline: DerainSegPipeline) -> None:
    from derain_seg_ros.nets.efficientnet_lite import EfficientNetLite, load_imagenet

    backbone = pipeline.deeplab.backbone
    if not isinstance(backbone, EfficientNetLite):
        raise ConfigError(
            f"stage0.pretrained=imagenet needs an EfficientNet-Lite backbone, this preset has {pipeline.cfg.deeplab.backbone}"
        )
    count = load_imagenet(backbone, pipeline.cfg.deeplab.backbone)
    log.info("stage 0 starts from %s's ImageNet weights (%d tensors)", pipeline.cfg.deeplab.backbone, count)


def stage0_job(cfg: TrainConfig) -> Job:
    """DeepLabv3+ on clean images with cross-entropy (255 ignored) and poly LR, as DeepLab trains."""
    pipeline = DerainSegPipeline.from_config(pipeline_config(cfg))
    s0 = cfg.stage0
    if s0.pretrained == "imagenet":
        _load_imagenet_backbone(pipeline)
    elif s0.pretrained is not None:
        raise ConfigError(f"stage0.pretrained must be null or 'imagenet', got {s0.pretrained!r}")

    weight = None
    if s0.class_weight_power:
        weight = class_weights(cfg, pipeline.cfg.deeplab.num_classes, s0.class_weight_power)
        log.info("stage 0 class weights (power %.2f): %s", s0.class_weight_power, [round(float(w), 2) for w in weight])

    def step(model: torch.nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        logits = model(to_float_nchw(batch["clean"])).logits
        loss = F.cross_entropy(
            logits, batch["label"], ignore_index=IGNORE_ID, weight=None if weight is None else weight.to(logits.device)
        )
        return loss, {"ce": float(loss.detach()), "total": float(loss.detach())}

    return Job(
        "stage0",
        pipeline,
        pipeline.deeplab,
        tuple(getattr(pipeline, n) for n in pipeline.derainer_parts),
        lambda p: torch.optim.SGD(p, lr=s0.lr, momentum=s0.momentum, weight_decay=s0.weight_decay),
        poly(s0.poly_power),
        step,
        s0.epochs,
        s0.steps_per_epoch,
    )


def _validator(cfg: TrainConfig, o: OptimConfig, pipeline: DerainSegPipeline) -> Callable[[], float]:
    """The stage's selection score (``select_metric``), on the held-out items of every set of the run."""
    if o.select_metric == "psnr":
        return psnr_validator(pipeline, validation_samples(cfg))
    from train.evaluate import scored_classes

    log.info("selection: held-out mIoU among weights within %.2f dB RGB PSNR of the start", o.psnr_guard_db)
    return GuardedMiou(pipeline, validation_items(cfg), o.psnr_guard_db, scored_classes(cfg.data.root))


def pipeline_job(cfg: TrainConfig, stage: Stage, init_stage1: str | Path | None = None) -> Job:
    """A Table-1 training: ``stage.trains`` learn, DeepLab (from stage 0) and the rest stay frozen."""
    pipeline = DerainSegPipeline.from_config(pipeline_config(cfg, None if stage.uses_srrn else 0))
    load_stage0(cfg, pipeline)
    if "attention" not in stage.trains:
        load_submodules(
            pipeline, str(init_stage1) if init_stage1 else cfg.init.stage1, ("attention", "coarse"), "stage1"
        )
    elif cfg.init.stage1:
        # A warm start: A and C continue from an earlier stage 1 under this run's data and schedule
        # (the streets model's stage 1 is fine-tuned on real dash-cam footage this way).
        log.info("stage 1 starts from A and C of init.stage1 = %s", cfg.init.stage1)
        load_submodules(pipeline, cfg.init.stage1, ("attention", "coarse"), "stage1")
    frozen = tuple(getattr(pipeline, n) for n in ("attention", "coarse", "srrn", "deeplab") if n not in stage.trains)
    job = stage_job(cfg, stage, pipeline, frozen)
    tone = pipeline.coarse.tone
    if tone is not None and "coarse" in stage.trains:
        if not cfg.tone.refit:
            if not cfg.init.stage1:
                raise ConfigError("tone.refit=false keeps the tone head of init.stage1 frozen: set init.stage1")
            log.info("tone head kept as init.stage1 has it, frozen (tone.refit=false)")
            job = replace(job, frozen=(*frozen, tone))
        elif cfg.tone.steps > 0:
            # The head is fitted alone first (train/tone_fit.py) and then kept as fitted: C trains around it
            # (tone.steps=0: no fit, the head trains with C under the stage's losses).
            from train.tone_fit import fit_tone

            job = replace(job, frozen=(*frozen, tone), prepare=lambda: fit_tone(tone, cfg))
    trust = pipeline.coarse.trust
    if trust is not None and "coarse" in stage.trains:
        # It stays the identity while C trains: it judges the finished C.
        job = replace(job, frozen=(*job.frozen, trust))
    elif trust is not None and stage.uses_srrn and cfg.trust.steps > 0:
        # Fitted alone behind the frozen A and C (train/trust_fit.py) before the SRRN trains behind them.
        from train.trust_fit import fit_trust

        job = replace(job, prepare=lambda: fit_trust(trust, pipeline._derain, cfg))
    return job


def stage_job(cfg: TrainConfig, stage: Stage, pipeline: DerainSegPipeline, frozen: tuple[torch.nn.Module, ...]) -> Job:
    """``stage``'s losses, schedule and selection over ``pipeline``, whose ``frozen`` parts stay as loaded:
    one definition for the Table-1 variants and for R + TJT behind a baseline (train/baselines/jobs.py)."""
    weights = stage.weights(cfg.loss)
    o: OptimConfig = getattr(cfg, stage.optim)

    def step(model: torch.nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        rainy, clean = to_float_nchw(batch["rainy"]), to_float_nchw(batch["clean"])
        on_derained = weights.semantic > 0 and weights.semantic_on == "derained"
        out = model(rainy, segment=False, features=on_derained)
        seg_pred = seg_clean = None
        if weights.semantic:
            seg_pred = out["seg"] if on_derained else pipeline.deeplab(out["coarse"])
            with torch.no_grad():
                seg_clean = pipeline.deeplab(clean)
        # M_gt is the dataset's mask/ (one definition, written at synthesis), cropped with the images.
        mask = (batch["rain_mask"] > 127).unsqueeze(1).to(rainy.dtype) if weights.attention else None
        return pipeline_loss(out, clean, weights, mask, seg_pred, seg_clean)

    # DDP wraps the whole pipeline (its forward is the one graph); frozen parts get requires_grad
    # False in ``fit``, so neither DDP nor the optimizer sees them.
    validate = _validator(cfg, o, pipeline) if o.select_best else None
    return Job(
        stage.name,
        pipeline,
        pipeline,
        frozen,
        lambda p: torch.optim.Adam(p, lr=o.lr, betas=(o.betas[0], o.betas[1])),
        multistep(o.milestones, o.gamma, o.warmup),
        step,
        o.epochs,
        o.steps_per_epoch,
        validate=validate,
    )
