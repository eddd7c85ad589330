"""Per-camera health over a sliding window, the way diagnostic_updater's FrequencyStatus keeps it.

A ring of the last ``window`` snapshots of the cumulative counters: counts and rates are the
differences between the newest and the oldest snapshot over the time between them. So one bad
frame warns for one window and then ages out, and a camera that went silent turns STALE instead
of staying OK on its old totals. ROS-free: the node turns ``Status`` into a DiagnosticStatus.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# diagnostic_msgs/DiagnosticStatus levels
OK, WARN, ERROR, STALE = 0, 1, 2, 3
# received: frames that arrived; processed: published; dropped: replaced in their slot by a newer one;
# rejected: undecodable; failed: the engine or publishing failed; idle: not inferred, no output had a
# subscriber; lost: never arrived (estimated from stamp gaps: lost in DDS or by the driver).
COUNTERS = ("received", "processed", "dropped", "rejected", "failed", "idle", "lost")


@dataclass(frozen=True)
class Status:
    level: int
    message: str
    values: dict[str, str]


def _fmt(value: float) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


class CameraMonitor:
    """``window`` snapshots (diagnostic periods) back; ``min_rate_hz`` > 0 warns below that output rate."""

    def __init__(self, start: float, window: int = 5, min_rate_hz: float = 0.0) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1 snapshot, got {window}")
        self.min_rate_hz = min_rate_hz
        self._history: deque[tuple[float, dict[str, int]]] = deque(
            [(start, dict.fromkeys(COUNTERS, 0))], maxlen=window + 1
        )

    def update(
        self,
        now: float,
        counts: Mapping[str, int],
        latencies: Sequence[tuple[float, float]] = (),
        ages: Sequence[tuple[float, float]] = (),
    ) -> Status:
        """``counts``: cumulative counters; ``latencies``: (time done, seconds from arrival) of recent
        frames; ``ages``: (time done, seconds from the header stamp to publishing: end to end)."""
        self._history.append((now, {k: int(counts.get(k, 0)) for k in COUNTERS}))
        (t0, old), (t1, new) = self._history[0], self._history[-1]
        span = max(t1 - t0, 1e-9)
        window = {k: new[k] - old[k] for k in COUNTERS}
        in_hz, out_hz = window["received"] / span, window["processed"] / span
        lat = np.array([s for t, s in latencies if t0 < t <= t1], dtype=np.float64) * 1000.0
        values: dict[str, float | int] = {
            "window (s)": span,
            "input rate (Hz)": in_hz,
            "output rate (Hz)": out_hz,
            **{f"{k} in window": v for k, v in window.items()},
            **{f"{k} since start": new[k] for k in COUNTERS},
        }
        if lat.size:
            values.update(
                {
                    "latency mean (ms)": float(lat.mean()),
                    "latency p50 (ms)": float(np.percentile(lat, 50)),
                    "latency p99 (ms)": float(np.percentile(lat, 99)),
                    "latency max (ms)": float(lat.max()),
                }
            )
        age = np.array([s for t, s in ages if t0 < t <= t1], dtype=np.float64) * 1000.0
        if age.size:
            values.update(
                {
                    "stamp to publish p50 (ms)": float(np.percentile(age, 50)),
                    "stamp to publish max (ms)": float(age.max()),
                }
            )
        level, message = self._judge(window, span, out_hz, new["received"])
        return Status(level, message, {k: _fmt(v) for k, v in values.items()})

    def _judge(self, window: dict[str, int], span: float, out_hz: float, ever: int) -> tuple[int, str]:
        if window["received"] == 0:
            return STALE, f"no input for {span:.1f} s" if ever else "no input yet"
        if window["failed"]:
            return ERROR, f"engine failed on {window['failed']} frame(s) in the last {span:.1f} s"
        if window["rejected"]:
            return WARN, f"{window['rejected']} bad frame(s) rejected in the last {span:.1f} s"
        if window["idle"] == window["received"]:
            return OK, f"idle: no subscriber to any output ({window['received'] / span:.1f} Hz in, not inferred)"
        if self.min_rate_hz > 0 and out_hz < self.min_rate_hz:
            return WARN, f"output rate {out_hz:.1f} Hz below the minimum {self.min_rate_hz:g} Hz"
        lost = f", {window['lost']} lost before arrival" if window["lost"] else ""
        return OK, f"{out_hz:.1f} Hz out of {window['received'] / span:.1f} Hz in{lost}"


def engine_status(choice: Any, asked_backend: str) -> Status:
    """The engine that runs (a ``factory.EngineChoice``): backend, precision, device and engine cache, and
    WARN when it is not what was asked first (another backend, fp32 for fp16), with the reasons."""
    engine, spec, asked = choice.engine, choice.spec, choice.asked
    device = getattr(engine, "device", None) or spec.device
    if device is None:
        device = "cuda" if engine.name == "tensorrt" else ", ".join(getattr(engine, "providers", ())) or "cpu"
    if engine.name == "torch":
        cache = "not used (torch runs the checkpoint)"
    elif engine.name == "onnxruntime" and spec.is_onnx_file:
        cache = f"not used (runs {spec.checkpoint.name})"
    else:
        cache = getattr(engine, "cache_state", "") or f"exported graph in {spec.cache}"
    values = {
        "backend": engine.name,
        "backend asked": asked_backend,
        "precision": spec.precision,
        "precision asked": asked.precision,
        "device": str(device),
        "CUDA graph": str(bool(spec.cuda_graph)).lower(),
        "engine cache": cache,
        "weights": spec.checkpoint.name if spec.checkpoint else f"random (seed {spec.seed})",
        "changed": choice.note or "-",
        "skipped": "; ".join(choice.skipped) or "-",
    }
    if choice.changed:
        why = "; ".join([*choice.skipped, *([choice.note] if choice.note else [])])
        return Status(WARN, f"running {engine.name} {spec.precision} on {device}, not as asked ({why})", values)
    return Status(OK, f"running {engine.name} {spec.precision} on {device}", values)
