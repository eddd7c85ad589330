"""The one place an ``Engine`` is built from an ``EngineSpec``.

Each backend class resolves the spec first (can it run here, which precision does it really
build) and is then built from the resolved spec, so its caches are keyed by what is built.
``backend='auto'`` tries ``AUTO_ORDER``; what was chosen, and what was skipped or changed on the
way, is logged once, in one line, and returned (``EngineChoice``) so that the node can put it in
/diagnostics and /rosout too. A device that is asked for by name (``cuda`` on a machine without
one) is not quietly replaced by the CPU: the backend that would need it is unavailable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from derain_seg_ros.runtime.checkpoint import CheckpointError, missing_checkpoint
from derain_seg_ros.runtime.engine import BackendUnavailable, Engine
from derain_seg_ros.runtime.engine_spec import EngineSpec
from derain_seg_ros.runtime.ort_engine import OrtEngine
from derain_seg_ros.runtime.torch_engine import TorchEngine
from derain_seg_ros.runtime.trt_engine import TensorRTEngine

log = logging.getLogger(__name__)
ENGINES = {"torch": TorchEngine, "onnxruntime": OrtEngine, "tensorrt": TensorRTEngine}


@dataclass
class EngineChoice:
    engine: Engine
    spec: EngineSpec  # what was really built: backend chosen, precision and device resolved
    asked: EngineSpec
    note: str | None = None  # what the chosen backend changed (e.g. fp32 on a CPU)
    skipped: list[str] = field(default_factory=list)  # "backend: why" for each one passed over

    @property
    def changed(self) -> bool:
        """Anything differs from what was asked first (another backend, another precision)."""
        return bool(self.note or self.skipped)

    def summary(self) -> str:
        """One line: what runs, and why it is not what was asked first."""
        return (
            self.spec.describe()
            + (f" ({self.note})" if self.note else "")
            + (f" (skipped {'; '.join(self.skipped)})" if self.skipped else "")
        )


def check_device(spec: EngineSpec) -> None:
    """A device named in the spec must exist here; an empty one lets each backend choose."""
    if not spec.device or not spec.device.startswith("cuda"):
        return
    import torch

    if not torch.cuda.is_available():
        raise BackendUnavailable(f"device {spec.device} asked for, but torch sees no CUDA device here")
    index = int(spec.device.split(":")[1]) if ":" in spec.device else 0
    if index >= torch.cuda.device_count():
        raise BackendUnavailable(
            f"device {spec.device} asked for, but torch sees {torch.cuda.device_count()} CUDA device(s)"
        )


def choose_engine(spec: EngineSpec) -> EngineChoice:
    """Build the first candidate backend that runs here; ``BackendUnavailable`` naming each reason if none does."""
    if spec.checkpoint is not None and not spec.checkpoint.is_file():
        raise CheckpointError(missing_checkpoint(spec.checkpoint))  # before any backend hashes or exports it
    skipped: list[str] = []
    for name in spec.candidates():
        engine_class = ENGINES[name]
        try:
            check_device(spec)
            resolved, note = engine_class.resolve(spec.with_(backend=name))
            engine = engine_class.from_spec(resolved)
        except BackendUnavailable as exc:
            skipped.append(f"{name}: {exc}")
            continue
        choice = EngineChoice(engine, resolved, spec, note, skipped)
        # A warning when anything differs from the first choice: a node logs warnings by default.
        log.log(logging.WARNING if choice.changed else logging.INFO, "engine: %s", choice.summary())
        return choice
    if spec.backend != "auto" and not spec.fallback:
        raise BackendUnavailable(
            f"backend {spec.backend} cannot run here ({skipped[0].split(': ', 1)[1]}); "
            "choose another backend, or allow fallback"
        )
    raise BackendUnavailable("no backend could run: " + "; ".join(skipped))


def build_engine(spec: EngineSpec) -> tuple[Engine, EngineSpec]:
    """The engine, and the spec it was really built from (backend chosen, precision resolved)."""
    choice = choose_engine(spec)
    return choice.engine, choice.spec


def make_engine(spec: EngineSpec) -> Engine:
    return build_engine(spec)[0]
