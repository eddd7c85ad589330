"""The one place an ``Engine`` is built from an ``EngineSpec``.

Each backend class resolves the spec first (can it run here, which precision does it really
build) and is then built from the resolved spec, so its caches are keyed by what is built.
``backend='auto'`` tries ``AUTO_ORDER``; what was chosen, and what was skipped or changed on the
way, is logged once, in one line.
"""

from __future__ import annotations

import logging

from derain_seg_ros.runtime.checkpoint import CheckpointError
from derain_seg_ros.runtime.engine import BackendUnavailable, Engine
from derain_seg_ros.runtime.engine_spec import EngineSpec
from derain_seg_ros.runtime.ort_engine import OrtEngine
from derain_seg_ros.runtime.torch_engine import TorchEngine
from derain_seg_ros.runtime.trt_engine import TensorRTEngine

log = logging.getLogger(__name__)
ENGINES = {"torch": TorchEngine, "onnxruntime": OrtEngine, "tensorrt": TensorRTEngine}


def build_engine(spec: EngineSpec) -> tuple[Engine, EngineSpec]:
    """The engine, and the spec it was really built from (backend chosen, precision resolved)."""
    if spec.checkpoint is not None and not spec.checkpoint.is_file():
        raise CheckpointError(f"checkpoint not found: {spec.checkpoint}")  # before any backend hashes or exports it
    skipped: list[str] = []
    for name in spec.candidates():
        engine_class = ENGINES[name]
        try:
            resolved, note = engine_class.resolve(spec.with_(backend=name))
            engine = engine_class.from_spec(resolved)
        except BackendUnavailable as exc:
            skipped.append(f"{name}: {exc}")
            continue
        # A warning when anything differs from the first choice: a node logs warnings by default.
        log.log(logging.WARNING if note or skipped else logging.INFO, "engine: %s%s%s", resolved.describe(),
                f" ({note})" if note else "", f" (skipped {'; '.join(skipped)})" if skipped else "")
        return engine, resolved
    raise BackendUnavailable("no backend could run: " + "; ".join(skipped))


def make_engine(spec: EngineSpec) -> Engine:
    return build_engine(spec)[0]
