"""Latency of each stage of the one graph and of the whole, FLOPs, achieved TFLOP/s, peak memory.

Stages are the top-level submodules of ``DerainSegPipeline`` (A, C, SRRN and DeepLabv3+ today;
any network put in front of DeepLab later is timed the same way), measured by forward hooks while
the engine runs the whole graph. The benchmark never wires the networks itself, so it runs every
size and config the pipeline runs, padding included. Median and p99 over ``runs`` timed calls
after ``warmup``; CUDA events on a GPU, perf_counter on the CPU. FLOPs are counted on the meta
device (shapes only, no arithmetic). Results are appended to a Markdown file with date, device and
versions.
"""

from __future__ import annotations

import datetime as dt
import platform
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.progress import progress as tqdm
from derain_seg_ros.runtime.engine import BackendUnavailable, Engine
from derain_seg_ros.runtime.engine_spec import PRECISIONS, EngineSpec, EngineSpecError
from derain_seg_ros.runtime.factory import make_engine
from derain_seg_ros.runtime.frame_pipeline import FramePipeline
from derain_seg_ros.runtime.torch_engine import TorchEngine

LONG_SWEEP_S = 60.0  # estimates above this are reported, with how to shorten the sweep
CPU_TFLOPS_GUESS = 0.1  # about what the 2-core development CPU reaches on this graph (bench/RESULTS.md)
SHORTEN = "fewer --runs, smaller --sizes or --config small give a quicker look"


@dataclass
class Timing:
    name: str
    median_ms: float
    p99_ms: float
    gflops: float  # per batch

    @property
    def tflops_per_s(self) -> float:
        return self.gflops / self.median_ms if self.median_ms else float("nan")


@dataclass
class Row:
    setting: str  # backend, precision, size, batch, config
    batch: int
    timing: Timing
    peak_gib: float | None = None  # torch's allocator peak for this setting (GPU only)


@dataclass(frozen=True)
class Setting:
    backend: str
    precision: str
    cuda_graph: bool
    size: tuple[int, int]
    batch: int
    config_name: str

    @property
    def label(self) -> str:
        graph = "+graph" if self.cuda_graph else ""
        return f"{self.backend} {self.precision}{graph}, {self.size[0]}x{self.size[1]}, batch {self.batch}, {self.config_name}"

    @property
    def pixels(self) -> int:
        return self.size[0] * self.size[1] * self.batch


@contextmanager
def stage_hooks(pipeline: nn.Module, enter: Callable[[str], None], leave: Callable[[str], None]) -> Iterator[None]:
    """Call ``enter(name)``/``leave(name)`` around every top-level submodule while the graph runs."""
    handles = []
    for name, module in pipeline.named_children():
        handles.append(module.register_forward_pre_hook(lambda _m, _a, n=name: enter(n)))
        handles.append(module.register_forward_hook(lambda _m, _a, _o, n=name: leave(n)))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


class StageClock:
    """Milliseconds per stage of each call, from hooks (CUDA events on a GPU, perf_counter on the CPU)."""

    def __init__(self, cuda: bool) -> None:
        self.cuda = cuda
        self._open: dict[str, object] = {}
        self._marks: list[tuple[str, object, object]] = []

    def _now(self) -> object:
        if not self.cuda:
            return time.perf_counter()
        event = torch.cuda.Event(enable_timing=True)
        event.record()
        return event

    def enter(self, name: str) -> None:
        self._open[name] = self._now()

    def leave(self, name: str) -> None:
        self._marks.append((name, self._open.pop(name), self._now()))

    def collect(self) -> dict[str, float]:
        """Per stage, summed over its calls since the last collect (events must have completed)."""
        totals: dict[str, float] = defaultdict(float)
        for name, start, end in self._marks:
            totals[name] += start.elapsed_time(end) if self.cuda else (end - start) * 1000  # type: ignore[attr-defined,operator]
        self._marks.clear()
        return dict(totals)


def count_flops(config: PipelineConfig, height: int, width: int, batch: int) -> dict[str, float]:
    """GFLOP per batch for each stage and for the whole deployed graph ('pipeline').

    Counted on the meta device: shapes only, so a ResNet-101 at 1024x2048 costs nothing on a CPU.
    """
    with torch.device("meta"):
        model = FramePipeline(DerainSegPipeline.from_config(config)).eval()
    counter = FlopCounterMode(display=False)
    started: dict[str, int] = {}
    stages: dict[str, float] = defaultdict(float)

    def leave(name: str) -> None:
        stages[name] += (counter.get_total_flops() - started.pop(name)) / 1e9

    frames = torch.zeros(batch, height, width, 3, dtype=torch.uint8, device="meta")
    with (
        stage_hooks(model.pipeline, lambda n: started.__setitem__(n, counter.get_total_flops()), leave),
        counter,
        torch.inference_mode(),
    ):
        model(frames)
    return {**stages, "pipeline": counter.get_total_flops() / 1e9}


def time_calls(
    call: Callable[[], object],
    cuda: bool,
    warmup: int,
    runs: int,
    clock: StageClock | None = None,
    on_first: Callable[[float], None] | None = None,
    bar: tqdm | None = None,
) -> tuple[list[float], dict[str, list[float]]]:
    """Milliseconds of each timed call and, with a clock, of each stage in it."""
    totals: list[float] = []
    stages: dict[str, list[float]] = defaultdict(list)
    for i in range(warmup + runs):
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            call()
            end.record()
            end.synchronize()
            ms = start.elapsed_time(end)
        else:
            t0 = time.perf_counter()
            call()
            ms = (time.perf_counter() - t0) * 1000
        per_stage = clock.collect() if clock else {}
        if i == 0 and on_first:
            on_first(ms / 1000)
        if i >= warmup:
            totals.append(ms)
            for name, value in per_stage.items():
                stages[name].append(value)
        if bar is not None:
            bar.update()
    return totals, dict(stages)


def _stats(samples: list[float]) -> tuple[float, float]:
    return float(np.median(samples)), float(np.percentile(samples, 99))


def time_setting(
    engine: Engine,
    setting: Setting,
    warmup: int,
    runs: int,
    flops: dict[str, float],
    on_first: Callable[[float], None] | None = None,
    bar: tqdm | None = None,
) -> list[Timing]:
    """The torch engine: each stage (hooks) and the whole graph on device tensors. ONNX-based
    engines: end to end through ``Engine.infer`` (host frames in, host maps out), what a node sees."""
    height, width = setting.size
    if isinstance(engine, TorchEngine):
        frames = torch.randint(0, 256, (setting.batch, height, width, 3), dtype=torch.uint8, device=engine.device)
        cuda = engine.device.type == "cuda"
        if setting.cuda_graph:  # a replayed graph runs no hooks: the whole only
            totals, _ = time_calls(lambda: engine.run_tensor(frames), cuda, warmup, runs, None, on_first, bar)
            return [Timing("pipeline (CUDA graph)", *_stats(totals), flops["pipeline"])]
        clock = StageClock(cuda)
        with stage_hooks(engine.model.pipeline, clock.enter, clock.leave):
            totals, stages = time_calls(lambda: engine.run_tensor(frames), cuda, warmup, runs, clock, on_first, bar)
        return [
            *(Timing(name, *_stats(ms), flops.get(name, float("nan"))) for name, ms in stages.items()),
            Timing("pipeline", *_stats(totals), flops["pipeline"]),
        ]
    rng = np.random.default_rng(0)
    host = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(setting.batch)]
    totals, _ = time_calls(lambda: engine.infer(host), False, warmup, runs, None, on_first, bar)
    return [Timing("pipeline (end to end)", *_stats(totals), flops["pipeline"])]


def plan(
    config_name: str, sizes: list[tuple[int, int]], batches: list[int], settings: list[str], backends: list[str]
) -> list[Setting]:
    """Every (size, batch, backend, setting); ONNX-based backends take the precision part only."""
    for setting in settings:
        precision, _, graph = setting.partition("+")
        if precision not in PRECISIONS or graph not in ("", "graph"):
            raise EngineSpecError(
                f"a setting is a precision ({', '.join(PRECISIONS)}) with an optional +graph, got {setting!r}"
            )
    out = []
    for size in sizes:
        for batch in batches:
            for backend in backends:
                chosen = settings if backend == "torch" else list(dict.fromkeys(s.partition("+")[0] for s in settings))
                for setting in chosen:
                    precision, _, graph = setting.partition("+")
                    out.append(Setting(backend, precision, graph == "graph", size, batch, config_name))
    return out


def sweep(
    config_name: str,
    sizes: list[tuple[int, int]],
    batches: list[int],
    settings: list[str],
    backends: list[str],
    warmup: int = 10,
    runs: int = 100,
    report: Callable[[str], None] = print,
    progress: bool = True,
) -> list[Row]:
    """Every setting that can run here; the rest are reported and skipped. Says up front what it will
    do, and after the first call how long the whole sweep will take when that is long."""
    config = {
        "default": PipelineConfig,
        "small": PipelineConfig.small,
        "embedded": PipelineConfig.embedded,
        "streets": PipelineConfig.streets,
    }[config_name]()
    todo = plan(config_name, sizes, batches, settings, backends)
    calls = warmup + runs
    cuda = torch.cuda.is_available()
    report(f"bench: {len(todo)} setting(s) on {device_name()}, {warmup} warm-up + {runs} timed calls each")
    flops = {key: count_flops(config, *key[0], key[1]) for key in dict.fromkeys((s.size, s.batch) for s in todo)}
    guess = sum(flops[s.size, s.batch]["pipeline"] for s in todo) * calls / (CPU_TFLOPS_GUESS * 1000)
    if not cuda and guess > LONG_SWEEP_S:
        report(
            f"bench: warning: no GPU, and {guess / 60:.0f} min is a fair guess for this sweep on a CPU "
            f"(refined after the first call); {SHORTEN}"
        )

    def estimate(first: Setting, first_s: float) -> None:
        """Scaled by pixels per call: rough across backends, right about the order of magnitude."""
        total = first_s * calls * sum(s.pixels for s in todo[todo.index(first) :]) / first.pixels
        if total > LONG_SWEEP_S:
            report(
                f"bench: the first call took {first_s:.1f} s, so this sweep takes about {total / 60:.0f} min; {SHORTEN}"
            )

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="derain-seg-bench-") as cache:
        for setting in todo:
            spec = EngineSpec(
                setting.backend,
                config=config,
                precision=setting.precision,  # type: ignore[arg-type]
                size=setting.size if setting.backend != "torch" else None,
                batch=setting.batch,
                cuda_graph=setting.cuda_graph,
                cache_dir=Path(cache),
                fallback=False,
            )
            if cuda:
                torch.cuda.reset_peak_memory_stats()
            try:
                engine = make_engine(spec)
            except BackendUnavailable as exc:
                report(f"skipped {setting.label}: {exc}")
                continue
            with tqdm(total=calls, desc=setting.label, unit="call", leave=False, disable=not progress) as bar:
                try:
                    first = None if rows else partial(estimate, setting)
                    timings = time_setting(
                        engine, setting, warmup, runs, flops[setting.size, setting.batch], first, bar
                    )
                finally:
                    engine.close()
            peak = torch.cuda.max_memory_allocated() / 2**30 if cuda and setting.backend == "torch" else None
            for t in timings:
                rows.append(Row(setting.label, setting.batch, t, peak))
                report(
                    f"{setting.label:55s} {t.name:22s} {t.median_ms:9.2f} ms  p99 {t.p99_ms:9.2f}  "
                    f"{t.gflops:9.1f} GFLOP  {t.tflops_per_s:6.2f} TFLOP/s"
                )
    return rows


def device_name() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name()
    return f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def append_results(path: Path, title: str, rows: list[Row]) -> None:
    """Append a dated table; earlier results are never overwritten."""
    import onnxruntime

    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"\n## {title}\n",
        f"{stamp} · {device_name()} · torch {torch.__version__} · CUDA {torch.version.cuda or 'none'}"
        f" · onnxruntime {onnxruntime.__version__}{_trt_version()}\n",
        "| setting | stage | median ms | p99 ms | GFLOP/batch | TFLOP/s | frames/s | peak GPU GiB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        t = row.timing
        fps = f"{1000 * row.batch / t.median_ms:.1f}" if t.name.startswith("pipeline") else ""
        peak = f"{row.peak_gib:.2f}" if row.peak_gib is not None and t.name.startswith("pipeline") else ""
        lines.append(
            f"| {row.setting} | {t.name} | {t.median_ms:.2f} | {t.p99_ms:.2f} | {t.gflops:.1f} | {t.tflops_per_s:.2f} | {fps} | {peak} |"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write("\n".join(lines) + "\n")


def _trt_version() -> str:
    try:
        import tensorrt
    except ImportError:
        return ""
    return f" · TensorRT {tensorrt.__version__}"
