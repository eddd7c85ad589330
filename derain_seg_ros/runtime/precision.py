"""The one rule for a precision a backend cannot build as asked: fp32 instead where the spec allows
fallback (and the engine's log line says why), refused otherwise, before anything is built."""

from __future__ import annotations

from derain_seg_ros.runtime.engine import BackendUnavailable
from derain_seg_ros.runtime.engine_spec import EngineSpec


def precision_or_fp32(spec: EngineSpec, problem: str | None, fix: str = "") -> tuple[EngineSpec, str | None]:
    """``spec`` as it is when ``problem`` is None; else fp32 with the note to log, or BackendUnavailable
    (``problem`` + ``fix``) when ``spec.fallback`` is off."""
    if problem is None:
        return spec, None
    if not spec.fallback:
        raise BackendUnavailable(f"{problem}{fix}")
    return spec.with_(precision="fp32"), f"{spec.precision} asked, building fp32: {problem}"


def cuda_precision_problem(precision: str, device_type: str) -> str | None:
    """Why torch cannot run ``precision`` on ``device_type`` (fp16 and bf16 autocast need CUDA), or None."""
    if precision != "fp32" and device_type != "cuda":
        return f"{precision} needs a CUDA device; torch on the {device_type.upper()} runs fp32"
    return None
