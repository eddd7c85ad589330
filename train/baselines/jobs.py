"""The jobs of the paper's four baselines: the network in front of the frozen stage-0 DeepLab, its
own losses (``losses.py``), and for the GANs the discriminator with its
step, an ``Adversary`` of the one loop.

Choices made here, for every baseline alike:
- Optimiser and schedule are the project's ``optim`` section (Adam, step schedule), for the
  generator and the discriminator alike: every row of the comparison gets the same budget and
  data. The papers' own (DuRN's raindrop setting, for one: Adam 1e-4 for 4000 epochs, halved at
  2000, then 100 epochs of 1.1 x L1 at 1e-5) are not used; DuRN trains with its step-1 loss only.
- Perceptual terms (AGAN's, ICSC's) compare the frozen segmenter's backbone features, as L_H taps
  them (DeepLab's own input normalisation, then its backbone), instead of ImageNet-VGG features,
  which cannot be loaded here: AGAN uses the one tap L_H's LF uses (``loss.lf_layer``, layer1 by
  default), ICSC both taps, layer1 and layer4 (its pyramid weights 1/2 and 1: deepest counts most).
- AGAN's attention target M is the dataset's mask/ (M_gt of Guo et al.: BT.601 grey difference
  > 5 of 255). AGAN's own masks differ: its public training code thresholds the channel-summed
  difference at 35 and smooths the mask morphologically, so its maps mark fewer, larger blobs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from derain_seg_ros.nets.deeplab import DeepLabV3Plus
from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.runtime.checkpoint import CheckpointError, read_checkpoint
from derain_seg_ros.runtime.preprocess import to_float_nchw
from train.baselines.agan import AGANDiscriminator, AGANDiscriminatorConfig
from train.baselines.icsc import ICSCDiscriminator, ICSCDiscriminatorConfig
from train.baselines.losses import (
    DURN_STEP1,
    agan_discriminator_loss,
    agan_generator_loss,
    durn_loss,
    icsc_discriminator_loss,
    icsc_generator_loss,
    prenet_loss,
)
from train.baselines.pipeline import BaselineConfig, baseline_config, baseline_pipeline
from train.baselines.refined import RefinedDerainer
from train.config import TrainConfig
from train.loop import Adversary, Job, Loss, multistep
from train.stages import load_stage0, pipeline_config, stage_job
from train.variants import STAGE2, Baseline

DISCRIMINATORS: dict[str, tuple[type[nn.Module], Any]] = {
    "agan": (AGANDiscriminator, AGANDiscriminatorConfig),
    "icsc": (ICSCDiscriminator, ICSCDiscriminatorConfig),
}
"""derainer -> (discriminator class, its config class); the sizes follow ``model.preset`` like the networks'."""
ICSC_PERCEPTUAL_LAYERS = ("layer1", "layer4")


def discriminator(cfg: TrainConfig, derainer: str) -> nn.Module:
    net, config = DISCRIMINATORS[derainer]
    sizes = {"default": config, "embedded": config.embedded, "small": config.small}[cfg.model.preset]
    return net(sizes())


def baseline_config_of(cfg: TrainConfig, derainer: str) -> BaselineConfig:
    """The baseline at the model preset's widths, in front of the preset's DeepLab, with its inference settings."""
    ours = pipeline_config(cfg)
    return baseline_config(derainer, cfg.model.preset, ours.deeplab, correction_shrink=ours.correction_shrink)


def backbone_features(deeplab: DeepLabV3Plus, layers: Sequence[str]) -> Callable[[Tensor], list[Tensor]]:
    """Image in [0, 1] -> the frozen segmenter's backbone features named by ``layers``."""

    def features(image: Tensor) -> list[Tensor]:
        layer1, layer4 = deeplab.backbone(deeplab.normalise(image))
        taps = {"layer1": layer1, "layer4": layer4}
        return [taps[name] for name in layers]

    return features


def generator_forward(model: nn.Module, batch: dict[str, Any]) -> dict[str, Any]:
    """The deraining network on the batch, once; with the targets every baseline loss reads."""
    rainy, clean = to_float_nchw(batch["rainy"]), to_float_nchw(batch["clean"])
    mask = (batch["rain_mask"] > 127).unsqueeze(1).to(rainy.dtype)  # mask/ is 0/255: M in {0, 1}
    return {"out": model(rainy, segment=False), "clean": clean, "mask": mask}


def baseline_job(cfg: TrainConfig, baseline: Baseline) -> Job:
    """``baseline.derainer`` learns with its own losses; DeepLab (stage 0) stays frozen."""
    pipeline = baseline_pipeline(baseline_config_of(cfg, baseline.derainer))
    load_stage0(cfg, pipeline)
    o = cfg.optim

    def optimizer(params: list[nn.Parameter]) -> torch.optim.Optimizer:
        return torch.optim.Adam(params, lr=o.lr, betas=(o.betas[0], o.betas[1]))

    step, adversary = _losses(cfg, baseline.derainer, pipeline, optimizer)
    # As for the Table-1 variants, DDP wraps the whole pipeline; the frozen DeepLab gets
    # requires_grad False in ``fit``, so neither DDP nor the optimizer sees it.
    return Job(
        baseline.name,
        pipeline,
        pipeline,
        (pipeline.deeplab,),
        optimizer,
        multistep(o.milestones, o.gamma, o.warmup),
        step,
        getattr(cfg.baseline_epochs, baseline.derainer) or o.epochs,
        o.steps_per_epoch,
        adversary,
    )


def refined_baseline_job(cfg: TrainConfig, baseline: Baseline, base_checkpoint: str | Path) -> Job:
    """R + TJT behind a trained baseline: the baseline and DeepLab frozen, the preset's SRRN learns stage 2's
    losses (L_R + w_H L_H) on stage 2's schedule, selected as stage 2 is."""
    ours = pipeline_config(cfg)
    pipeline = baseline_pipeline(
        replace(baseline_config_of(cfg, baseline.derainer), num_srrb=ours.num_srrb, srrb=ours.srrb)
    )
    load_stage0(cfg, pipeline)
    derainer = pipeline.derainer
    assert isinstance(derainer, RefinedDerainer)
    load_baseline_network(derainer.base, base_checkpoint, baseline.derainer)
    return stage_job(cfg, replace(STAGE2, name=refined_name(baseline)), pipeline, (derainer.base, pipeline.deeplab))


def refined_name(baseline: Baseline) -> str:
    """The run folder of R + TJT behind ``baseline`` (its variant name is ``<name>+R+TJT``)."""
    return f"{baseline.name}_R_TJT"


def load_baseline_network(network: nn.Module, path: str | Path, derainer: str) -> None:
    """The deraining network's weights from a baseline's own checkpoint (its ``derainer.*`` keys), strictly."""
    state = read_checkpoint(path)
    theirs = state["config"].get("derainer", "ours")
    if theirs != derainer:
        raise CheckpointError(f"{path} is a checkpoint of the {theirs!r} derainer, not of {derainer!r}")
    weights = {k.removeprefix("derainer."): v for k, v in state["model"].items() if k.startswith("derainer.")}
    try:
        network.load_state_dict(weights)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: its {derainer} weights do not fit this preset's network: {exc}") from exc


def _losses(
    cfg: TrainConfig,
    derainer: str,
    pipeline: DerainSegPipeline,
    optimizer: Callable[[list[nn.Parameter]], torch.optim.Optimizer],
) -> tuple[Callable[..., Loss], Adversary | None]:
    """(the generator's step function, the adversary or None) of one baseline."""
    if derainer == "prenet":
        return lambda model, batch: prenet_loss(*_out_clean(generator_forward(model, batch))), None
    if derainer == "durn":
        return lambda model, batch: durn_loss(*_out_clean(generator_forward(model, batch)), DURN_STEP1), None
    disc = discriminator(cfg, derainer)
    if derainer == "agan":
        features = backbone_features(pipeline.deeplab, (cfg.loss.lf_layer,))

        def generator_loss(d: nn.Module, f: dict[str, Any]) -> Loss:
            return agan_generator_loss(f["out"], f["clean"], f["mask"], disc=d, features=features)

        def disc_loss(d: nn.Module, f: dict[str, Any]) -> Loss:
            return agan_discriminator_loss(d, f["out"], f["clean"])
    elif derainer == "icsc":
        features = backbone_features(pipeline.deeplab, ICSC_PERCEPTUAL_LAYERS)

        def generator_loss(d: nn.Module, f: dict[str, Any]) -> Loss:
            return icsc_generator_loss(f["out"], f["clean"], disc=d, features=features)

        def disc_loss(d: nn.Module, f: dict[str, Any]) -> Loss:
            return icsc_discriminator_loss(d, f["out"], f["clean"])
    else:
        raise ValueError(f"no losses for derainer {derainer!r}")
    adversary = Adversary(disc, optimizer, generator_forward, disc_loss, generator_loss)
    return lambda model, batch: generator_loss(disc, generator_forward(model, batch)), adversary


def _out_clean(forward: dict[str, Any]) -> tuple[dict[str, Any], Tensor]:
    return forward["out"], forward["clean"]
