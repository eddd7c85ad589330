"""The one training loop: data order, schedule, AMP, DDP, logging, checkpoints and exact resume.

Stage 0 (DeepLab on clean images), every pipeline stage of Table 1 and every baseline are a
``Job``: what to optimise and how one batch becomes a loss; a GAN baseline's job also carries an
``Adversary``, its discriminator, which the same loop steps between the generator's forward and
its loss. Everything else is shared.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm import tqdm

from derain_seg_ros.errors import DerainSegError
from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.runtime.checkpoint import CheckpointError, read_checkpoint, save_checkpoint
from train.config import TrainConfig, flatten_dict
from train.distributed import DistInfo, barrier
from train.run_folder import refuse_overwrite, trim_log

log = logging.getLogger("train")

Loss = tuple[torch.Tensor, dict[str, float]]  # the loss to minimise, and its terms for the logs
StepFn = Callable[[torch.nn.Module, dict[str, Any]], Loss]
OptimizerFn = Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer]


@dataclass
class Adversary:
    """A discriminator trained beside the job's network in the same loop (the GAN baselines).

    Training-only: it is never part of the pipeline (not in its state dict, not exported); the
    checkpoint keeps it, its optimizer and its schedule beside the pipeline for resume. Per batch
    the loop runs ``forward_fn`` (the generator, once), steps the discriminator on ``loss_fn``
    (given the discriminator, DDP-wrapped where the run is, and that forward; it must detach the
    generator's output), then steps the generator on ``generator_loss_fn`` (given the bare,
    updated discriminator, which it must run frozen). Same optimizer kind and schedule as the job.
    """

    module: torch.nn.Module
    optimizer_fn: OptimizerFn
    forward_fn: Callable[
        [torch.nn.Module, dict[str, Any]], dict[str, Any]
    ]  # (trained model, batch) -> what both losses read
    loss_fn: Callable[[torch.nn.Module, dict[str, Any]], Loss]
    generator_loss_fn: Callable[[torch.nn.Module, dict[str, Any]], Loss]


@dataclass
class Job:
    name: str
    pipeline: DerainSegPipeline
    trained: torch.nn.Module  # what DDP wraps and the optimizer updates
    frozen: tuple[torch.nn.Module, ...]  # kept in eval mode: BN statistics must not move
    optimizer_fn: OptimizerFn
    lr_factor: Callable[[int, int, int], float]  # (step, steps_per_epoch, total_steps) -> factor
    step_fn: StepFn  # with an adversary: the generator's loss at the current discriminator (the loop splits it)
    epochs: int
    steps_per_epoch: int | None
    adversary: Adversary | None = None
    # Held-out score (higher is better). With it, ``best.pt`` keeps the weights that scored best,
    # the start included: a stage that begins at the identity then never ends worse than it began.
    validate: Callable[[], float] | None = None
    # Run once before the first step of a fresh run (not on resume): e.g. fitting a part that the
    # job then keeps frozen (train/tone_fit.py).
    prepare: Callable[[], None] | None = None


def multistep(milestones: list[float], gamma: float, warmup: float = 0.0) -> Callable[[int, int, int], float]:
    """x ``gamma`` at each milestone, given as a fraction of the run (the paper's 30/50/80 of 100
    epochs is [0.3, 0.5, 0.8]), after an optional linear warm-up over a fraction of the run."""

    def factor(step: int, per_epoch: int, total: int) -> float:
        ramp = min(1.0, (step + 1) / (warmup * total)) if warmup > 0 else 1.0
        return ramp * gamma ** bisect.bisect_right(milestones, step / max(total, 1))

    return factor


def poly(power: float) -> Callable[[int, int, int], float]:
    return lambda step, per_epoch, total: max(0.0, 1 - step / max(total, 1)) ** power


def _rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def weights_digest(module: torch.nn.Module) -> str:
    """sha256 over every parameter and buffer: equal digests mean bit-identical weights."""
    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def sync_buffers(module: torch.nn.Module) -> None:
    """DDP keeps parameters equal, but each rank's last forward moved its own BN statistics:
    take rank 0's, so what every rank holds is what the checkpoint holds."""
    if torch.distributed.is_initialized():
        for buffer in module.buffers():
            torch.distributed.broadcast(buffer, 0)


def _set_modes(job: Job) -> None:
    job.pipeline.train()
    for module in job.frozen:
        module.eval()
    if job.adversary is not None:
        job.adversary.module.train()


@dataclass
class AdversaryState:
    """The discriminator's side of a session: what runs it (DDP-wrapped or bare) and its optimisation state."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR


@dataclass
class Session:
    """What the pieces of one ``fit`` share: the optimisation state and where the run stands."""

    job: Job
    cfg: TrainConfig
    run_dir: Path
    dist: DistInfo
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    per_epoch: int
    total: int
    adversary: AdversaryState | None = None
    step: int = 0
    saved_at: int = 0
    seconds_before: float = 0.0  # training time of earlier invocations (a resumed run adds to it)
    started: float = field(default_factory=time.perf_counter)
    best_score: float | None = None  # with ``job.validate``: the score of best.pt

    @property
    def ckpt_path(self) -> Path:
        return self.run_dir / "last.pt"

    @property
    def best_path(self) -> Path:
        return self.run_dir / "best.pt"

    @property
    def train_seconds(self) -> float:
        return self.seconds_before + time.perf_counter() - self.started


def stage_result(run_dir: Path) -> Path:
    """What a finished stage hands on: ``best.pt`` where it was selected on held-out data, else ``last.pt``."""
    best = run_dir / "best.pt"
    return best if best.is_file() else run_dir / "last.pt"


def fit(job: Job, cfg: TrainConfig, dataset: Dataset, run_dir: Path, dist: DistInfo, resume: bool = False) -> Path:
    """Train ``job`` and return what it hands on: ``run_dir/best.pt`` with ``job.validate``, else ``last.pt``."""
    refuse_overwrite(run_dir, resume)  # trained weights are continued or left alone, never trained over
    session = _start(job, cfg, dataset, run_dir, dist)
    if resume:
        _resume(session)
    if job.prepare is not None and session.step == 0:
        job.prepare()
    if dist.main:
        trim_log(run_dir / "log.csv", session.step)  # rows after the checkpoint would be written twice
    sampler = DistributedSampler(
        dataset, num_replicas=dist.world, rank=dist.rank, shuffle=True, seed=cfg.seed, drop_last=True
    )
    _train(session, dataset, sampler)
    print(f"[{job.name}] rank {dist.rank} weights sha256 {weights_digest(job.pipeline)}", flush=True)
    if job.adversary is not None:
        print(f"[{job.name}] rank {dist.rank} adversary sha256 {weights_digest(job.adversary.module)}", flush=True)
    return session.best_path if job.validate is not None else session.ckpt_path


def _wrap(module: torch.nn.Module, dist: DistInfo) -> torch.nn.Module:
    if dist.world == 1:
        return module
    return DistributedDataParallel(module, device_ids=[dist.local_rank] if dist.device.type == "cuda" else None)


def _start(job: Job, cfg: TrainConfig, dataset: Dataset, run_dir: Path, dist: DistInfo) -> Session:
    """Freeze what the job does not train, wrap for DDP, build optimizer and schedule."""
    run_dir.mkdir(parents=True, exist_ok=True)
    device = dist.device
    job.pipeline.to(device, memory_format=_layout(cfg))
    for module in job.frozen:
        module.requires_grad_(False)
    params = [p for p in job.trained.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"{job.name}: nothing to train")
    model = _wrap(job.trained, dist)
    optimizer = job.optimizer_fn(params)
    batch = cfg.data.batch_size
    per_epoch = len(dataset) // dist.world // batch  # DistributedSampler(drop_last) gives each rank len // world
    if job.steps_per_epoch:
        per_epoch = min(per_epoch, job.steps_per_epoch)
    if per_epoch < 1:
        raise DerainSegError(
            f"{job.name}: {len(dataset)} training images are fewer than one batch of {batch} per process"
        )
    total = per_epoch * job.epochs

    def schedule(opt: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LambdaLR:
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: job.lr_factor(s, per_epoch, total))

    adversary = None
    if job.adversary is not None:
        disc = job.adversary.module.to(device, memory_format=_layout(cfg))
        disc_optimizer = job.adversary.optimizer_fn(list(disc.parameters()))
        adversary = AdversaryState(_wrap(disc, dist), disc_optimizer, schedule(disc_optimizer))
    amp = cfg.run.amp and device.type == "cuda"
    return Session(
        job,
        cfg,
        run_dir,
        dist,
        model,
        optimizer,
        schedule(optimizer),
        torch.amp.GradScaler("cuda", enabled=amp),
        per_epoch,
        total,
        adversary,
    )


def _resume(s: Session) -> None:
    """Continue bit-exactly from ``last.pt``: weights, optimizer, schedule, step and every RNG."""
    if not s.ckpt_path.is_file():
        log.info("%s: nothing to resume in %s, starting fresh", s.job.name, s.run_dir)
        return
    state = read_checkpoint(s.ckpt_path)
    changed = _changed_keys(state["config"], s.job.pipeline.cfg)
    if changed:  # else load_state_dict's missing/unexpected keys, which do not say why
        raise CheckpointError(
            f"{s.ckpt_path} holds other networks than this run's config ({', '.join(changed)} differ): "
            "resume with the config it was trained with, or start a new run.out"
        )
    s.job.pipeline.load_state_dict(state["model"])
    s.step = s.saved_at = state["step"]
    _load_optimisation(s, s.optimizer, s.scheduler, state["optimizer"], state["scheduler"], "learning rate")
    if s.adversary is not None:
        if "adversary" not in state:
            raise CheckpointError(f"{s.ckpt_path} holds no discriminator: it is not a checkpoint of {s.job.name}")
        s.job.adversary.module.load_state_dict(state["adversary"])  # type: ignore[union-attr]
        _load_optimisation(
            s,
            s.adversary.optimizer,
            s.adversary.scheduler,
            state["adversary_optimizer"],
            state["adversary_scheduler"],
            "discriminator's learning rate",
        )
    s.scaler.load_state_dict(state["scaler"])
    s.seconds_before = float(state.get("train_seconds", 0.0))
    s.best_score = state.get("best_score")
    if hasattr(s.job.validate, "load_state"):
        if "validate_state" in state:
            s.job.validate.load_state(state["validate_state"])
        else:  # a checkpoint from before the state was kept: the first score after resuming becomes the start
            log.warning("%s: %s holds no selection state; the guard's start is measured anew", s.job.name, s.ckpt_path)
    _set_rng_state(state["rng"])
    log.info("%s: resumed at step %d of %d", s.job.name, s.step, s.total)


def _changed_keys(saved: dict[str, Any], current: Any) -> list[str]:
    """Dotted names of the network settings that differ; one the checkpoint predates reads as its default."""
    before, now = flatten_dict(type(current).from_dict(saved).to_dict()), flatten_dict(current.to_dict())
    return sorted(
        k for k in before.keys() | now.keys() if before.get(k) != now.get(k) and k not in current.INFERENCE_ONLY
    )


def _load_optimisation(
    s: Session,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LambdaLR,
    optimizer_state: dict[str, Any],
    scheduler_state: dict[str, Any],
    what: str,
) -> None:
    """Optimizer and schedule state from a checkpoint; a rate changed in the config since wins (and is logged)."""
    optimizer.load_state_dict(optimizer_state)
    configured = list(scheduler.base_lrs)
    scheduler.load_state_dict(scheduler_state)
    if configured != scheduler.base_lrs:  # the usual answer to a divergence: resume with a lower rate
        log.info("%s: %s %s -> %s from the config", s.job.name, what, scheduler.base_lrs, configured)
        scheduler.base_lrs = configured
        for group, base in zip(optimizer.param_groups, configured, strict=True):
            group["initial_lr"], group["lr"] = base, base * s.job.lr_factor(s.step, s.per_epoch, s.total)


def _save(s: Session) -> None:
    """Atomic ``last.pt`` with everything ``_resume`` needs; every rank holds rank 0's buffers."""
    s.saved_at = s.step
    sync_buffers(s.job.pipeline)
    extra: dict[str, Any] = {}
    if s.adversary is not None:  # beside the pipeline, never in it: load_pipeline and export never see it
        sync_buffers(s.job.adversary.module)  # type: ignore[union-attr]
        extra = {
            "adversary": s.job.adversary.module.state_dict(),  # type: ignore[union-attr]
            "adversary_optimizer": s.adversary.optimizer.state_dict(),
            "adversary_scheduler": s.adversary.scheduler.state_dict(),
        }
    if s.dist.main:
        _write(
            s,
            s.ckpt_path,
            done=s.step >= s.total,
            optimizer=s.optimizer.state_dict(),
            scheduler=s.scheduler.state_dict(),
            scaler=s.scaler.state_dict(),
            rng=_rng_state(),
            best_score=s.best_score,
            **_validate_state(s),
            **extra,
        )
    barrier()


def _write(s: Session, path: Path, **extra: Any) -> None:
    """A checkpoint of the pipeline where the run stands (stage, step, config, time) with ``extra``."""
    save_checkpoint(
        path,
        s.job.pipeline,
        stage=s.job.name,
        step=s.step,
        total_steps=s.total,
        train_config=s.cfg.to_dict(),
        train_seconds=s.train_seconds,
        **extra,
    )


def _validate_state(s: Session) -> dict[str, Any]:
    """What the held-out score needs to go on after a resume (the guard's start), if it keeps any."""
    return {"validate_state": s.job.validate.state()} if hasattr(s.job.validate, "state") else {}


def _validate(s: Session) -> None:
    """Score the held-out set; a better score (or the first) becomes ``best.pt``. Consumes no RNG."""
    assert s.job.validate is not None
    score = s.job.validate()
    if s.best_score is None or score > s.best_score:
        log.info("%s: held-out score %.3f at step %d, the best so far: best.pt", s.job.name, score, s.step)
        s.best_score = score
        if s.dist.main:
            _write(s, s.best_path, best_score=score, **_validate_state(s))
        barrier()
    else:
        log.info("%s: held-out score %.3f at step %d (best %.3f)", s.job.name, score, s.step, s.best_score)


def _train(s: Session, dataset: Dataset, sampler: DistributedSampler) -> None:
    """Epochs of shuffled batches from where ``s.step`` stands, to the end or ``run.max_steps``."""
    cfg, job, device = s.cfg, s.job, s.dist.device
    batch, max_steps, every = cfg.data.batch_size, cfg.run.max_steps, cfg.run.checkpoint_every_steps
    amp = s.scaler.is_enabled()
    logger = TrainLog(s.run_dir, job.name) if s.dist.main else None
    bar = tqdm(total=s.total, initial=s.step, desc=job.name, disable=not (s.dist.main and cfg.run.progress), unit="it")

    def finished() -> bool:
        return s.step >= s.total or (max_steps is not None and s.step >= max_steps)

    if job.validate is not None and s.best_score is None:
        _validate(s)  # the starting point is a candidate too
    while not finished():
        epoch, skip = divmod(s.step, s.per_epoch)
        sampler.set_epoch(epoch)
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
        order = list(sampler)[skip * batch : s.per_epoch * batch]
        # Its own generator: a DataLoader draws its worker seed from it, not from the global RNG,
        # so a resumed run consumes the global RNG (dropout) exactly as an uninterrupted one.
        loader = DataLoader(
            dataset,
            batch_size=batch,
            sampler=order,
            num_workers=cfg.data.workers,
            drop_last=True,
            generator=torch.Generator().manual_seed(cfg.seed * 100_003 + epoch),
        )
        _set_modes(job)
        for data in loader:
            started = time.perf_counter()
            data = _to(data, device)
            if job.adversary is None:
                with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
                    loss, parts = job.step_fn(s.model, data)
            else:
                loss, parts = _adversarial_losses(s, data)
            _check_finite(s, loss, "loss")
            s.optimizer.zero_grad(set_to_none=True)
            s.scaler.scale(loss).backward()
            s.scaler.step(s.optimizer)
            s.scaler.update()
            s.scheduler.step()
            if s.adversary is not None:
                s.adversary.scheduler.step()
            s.step += 1
            rate = 1 / max(time.perf_counter() - started, 1e-9)
            bar.update()
            bar.set_postfix(loss=f"{parts['total']:.4f}", it_s=f"{rate:.1f}")
            if logger and (s.step % cfg.run.log_every == 0 or s.step == s.total):
                logger.write(s.step, epoch, s.optimizer.param_groups[0]["lr"], parts, rate)
            if job.validate is not None and s.step % s.per_epoch == 0:
                _validate(s)  # before the save, so last.pt knows the best score
            if (every and s.step % every == 0) or s.step % s.per_epoch == 0:
                _save(s)
            if finished():
                break
    bar.close()
    if s.saved_at != s.step or not s.ckpt_path.is_file():  # stopped between checkpoints (max_steps)
        _save(s)
    if logger:
        logger.close()


def _adversarial_losses(s: Session, data: dict[str, Any]) -> Loss:
    """The generator's forward (once), the discriminator's step on it, then the generator's loss
    through the updated discriminator; the discriminator's terms join the logs as ``disc_*``."""
    adversary, state = s.job.adversary, s.adversary
    assert adversary is not None and state is not None
    with torch.autocast(s.dist.device.type, dtype=torch.float16, enabled=s.scaler.is_enabled()):
        forward = adversary.forward_fn(s.model, data)
        disc_loss, disc_parts = adversary.loss_fn(state.model, forward)
    _check_finite(s, disc_loss, "discriminator loss")
    state.optimizer.zero_grad(set_to_none=True)
    s.scaler.scale(disc_loss).backward()
    s.scaler.step(state.optimizer)  # one scaler for both optimizers: updated once, after the generator's step
    with torch.autocast(s.dist.device.type, dtype=torch.float16, enabled=s.scaler.is_enabled()):
        loss, parts = adversary.generator_loss_fn(adversary.module, forward)
    return loss, {**parts, **{f"disc_{k}": v for k, v in disc_parts.items()}}


def _check_finite(s: Session, loss: torch.Tensor, what: str) -> None:
    if not torch.isfinite(loss):
        raise FloatingPointError(
            f"{s.job.name}: {what} became {float(loss.detach())} at step {s.step}; the checkpoint of step "
            f"{s.saved_at} is kept in {s.run_dir}: lower the learning rate and --resume"
        )


def _layout(cfg: TrainConfig) -> torch.memory_format:
    """The networks' weight layout. Batches stay as loaded (uint8 N x H x W x 3): the step's float N x C x H x W
    copy meets NHWC weights, and a convolution then runs in NHWC."""
    return torch.channels_last if cfg.run.channels_last else torch.contiguous_format


def _to(data: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in data.items()}


class TrainLog:
    """log.csv always; TensorBoard too where it is installed (the ``train`` extra), said once if not."""

    def __init__(self, run_dir: Path, name: str) -> None:
        self.csv_path, self.name = run_dir / "log.csv", name
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            log.info(
                "%s: tensorboard is not installed (pip install 'derain_seg_ros[train]'); logging to %s only",
                name,
                self.csv_path,
            )
            self.writer = None
        else:
            self.writer = SummaryWriter(str(run_dir / "tb"))

    def write(self, step: int, epoch: int, lr: float, parts: dict[str, float], rate: float) -> None:
        row = {
            "step": step,
            "epoch": epoch,
            "lr": lr,
            "it_per_s": round(rate, 3),
            **{f"loss_{k}": v for k, v in parts.items()},
        }
        new = not self.csv_path.is_file()
        with self.csv_path.open("a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(row))
            if new:
                w.writeheader()
            w.writerow(row)
        if self.writer is not None:
            for key, value in parts.items():
                self.writer.add_scalar(f"{self.name}/loss_{key}", value, step)
            self.writer.add_scalar(f"{self.name}/lr", lr, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
