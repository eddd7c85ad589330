"""The one training loop: data order, schedule, AMP, DDP, logging, checkpoints and exact resume.

Stage 0 (DeepLab on clean images) and every pipeline stage of Table 1 are a ``Job``: what to
optimise and how one batch becomes a loss. Everything else is shared.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from derain_seg_ros.data.torch_dataset import RaindropCityscapesDataset
from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.runtime.checkpoint import read_checkpoint, save_checkpoint
from train.distributed import DistInfo, barrier

log = logging.getLogger("train")

StepFn = Callable[[torch.nn.Module, dict[str, Any]], tuple[torch.Tensor, dict[str, float]]]


@dataclass
class Job:
    name: str
    pipeline: DerainSegPipeline
    trained: torch.nn.Module  # what DDP wraps and the optimizer updates
    frozen: tuple[torch.nn.Module, ...]  # kept in eval mode: BN statistics must not move
    optimizer_fn: Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer]
    lr_factor: Callable[[int, int, int], float]  # (step, steps_per_epoch, total_steps) -> factor
    step_fn: StepFn
    epochs: int
    steps_per_epoch: int | None


def multistep(milestones: list[int], gamma: float) -> Callable[[int, int, int], float]:
    """The paper's schedule (x gamma at each milestone epoch), evaluated per step."""
    return lambda step, per_epoch, total: gamma ** bisect.bisect_right(milestones, step // per_epoch)


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


def fit(job: Job, cfg: dict[str, Any], dataset: RaindropCityscapesDataset, run_dir: Path, dist: DistInfo,
        resume: bool = False) -> Path:
    """Train ``job`` and return the path of its final checkpoint (``run_dir/last.pt``)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = run_dir / "last.pt"
    device = dist.device
    job.pipeline.to(device)
    for module in job.frozen:
        module.requires_grad_(False)
    params = [p for p in job.trained.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"{job.name}: nothing to train")
    model = DistributedDataParallel(job.trained, device_ids=[dist.local_rank] if device.type == "cuda" else None) \
        if dist.world > 1 else job.trained
    optimizer = job.optimizer_fn(params)
    batch = cfg["data"]["batch_size"]
    sampler = DistributedSampler(dataset, num_replicas=dist.world, rank=dist.rank, shuffle=True, seed=cfg["seed"], drop_last=True)
    per_epoch = len(sampler) // batch
    if job.steps_per_epoch:
        per_epoch = min(per_epoch, job.steps_per_epoch)
    if per_epoch < 1:
        raise ValueError(f"{job.name}: {len(dataset)} training images are fewer than one batch of {batch} per process")
    total = per_epoch * job.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: job.lr_factor(s, per_epoch, total))
    amp = cfg["run"]["amp"] and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    step = 0
    if resume and ckpt_path.is_file():
        state = read_checkpoint(ckpt_path)
        job.pipeline.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        configured = list(scheduler.base_lrs)
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        step = state["step"]
        _set_rng_state(state["rng"])
        log.info("%s: resumed at step %d of %d", job.name, step, total)
        if configured != scheduler.base_lrs:  # the usual answer to a divergence: resume with a lower rate
            log.info("%s: learning rate %s -> %s from the config", job.name, scheduler.base_lrs, configured)
            scheduler.base_lrs = configured
            for group, base in zip(optimizer.param_groups, configured, strict=True):
                group["initial_lr"], group["lr"] = base, base * job.lr_factor(step, per_epoch, total)
    elif resume:
        log.info("%s: nothing to resume in %s, starting fresh", job.name, run_dir)

    saved_at = step

    def save(done: bool) -> None:
        nonlocal saved_at
        saved_at = step
        sync_buffers(job.pipeline)
        if dist.main:
            save_checkpoint(ckpt_path, job.pipeline, stage=job.name, step=step, total_steps=total, done=done,
                            optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict(),
                            scaler=scaler.state_dict(), rng=_rng_state(), train_config=cfg)
        barrier()

    writer, csv_file = _loggers(run_dir, dist)
    max_steps = cfg["run"]["max_steps"]
    every = cfg["run"]["checkpoint_every_steps"]
    bar = tqdm(total=total, initial=step, desc=job.name, disable=not (dist.main and cfg["run"]["progress"]), unit="it")
    while step < total and (max_steps is None or step < max_steps):
        epoch, skip = divmod(step, per_epoch)
        sampler.set_epoch(epoch)
        dataset.set_epoch(epoch)
        order = list(sampler)[skip * batch: per_epoch * batch]
        # Its own generator: a DataLoader draws its worker seed from it, not from the global RNG,
        # so a resumed run consumes the global RNG (dropout) exactly as an uninterrupted one.
        loader = DataLoader(dataset, batch_size=batch, sampler=order, num_workers=cfg["data"]["workers"], drop_last=True,
                            generator=torch.Generator().manual_seed(cfg["seed"] * 100_003 + epoch))
        _set_modes(job)
        for data in loader:
            started = time.perf_counter()
            with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
                loss, parts = job.step_fn(model, _to(data, device))
            if not torch.isfinite(loss):
                raise FloatingPointError(f"{job.name}: loss became {float(loss)} at step {step}; the checkpoint of step "
                                         f"{saved_at} is kept in {run_dir}: lower the learning rate and --resume")
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            step += 1
            rate = 1 / max(time.perf_counter() - started, 1e-9)
            bar.update()
            bar.set_postfix(loss=f"{parts['total']:.4f}", it_s=f"{rate:.1f}")
            if dist.main and (step % cfg["run"]["log_every"] == 0 or step == total):
                _log(writer, csv_file, job.name, step, epoch, optimizer.param_groups[0]["lr"], parts, rate)
            if (every and step % every == 0) or step % per_epoch == 0:
                save(done=step == total)
            if step >= total or (max_steps is not None and step >= max_steps):
                break
    bar.close()
    if saved_at != step:  # stopped between checkpoints (max_steps); otherwise the last one is current
        save(done=step >= total)
    if writer is not None:
        writer.close()
    print(f"[{job.name}] rank {dist.rank} weights sha256 {weights_digest(job.pipeline)}", flush=True)
    return ckpt_path


def _to(data: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in data.items()}


def _loggers(run_dir: Path, dist: DistInfo):
    if not dist.main:
        return None, None
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(run_dir / "tb")), run_dir / "log.csv"


def _log(writer, csv_path: Path, name: str, step: int, epoch: int, lr: float, parts: dict[str, float], rate: float) -> None:
    row = {"step": step, "epoch": epoch, "lr": lr, "it_per_s": round(rate, 3), **{f"loss_{k}": v for k, v in parts.items()}}
    new = not csv_path.is_file()
    with csv_path.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(row))
        if new:
            w.writeheader()
        w.writerow(row)
    for key, value in parts.items():
        writer.add_scalar(f"{name}/loss_{key}", value, step)
    writer.add_scalar(f"{name}/lr", lr, step)
