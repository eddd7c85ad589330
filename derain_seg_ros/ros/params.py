"""The node's parameters: one table (name, default, description, allowed values) and one check.

ROS-free, so the rules are tested without ROS. The node declares every parameter from this table
as read-only (they are read once, at start: a ``ros2 param set`` that changed nothing would lie)
and passes what it read to ``validate``, which reports every problem in one message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from derain_seg_ros.errors import DerainSegError
from derain_seg_ros.ros.outputs import OUTPUTS

TRANSPORTS = ("raw", "compressed")
CAMERA_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(/[A-Za-z][A-Za-z0-9_]*)*$")


class ParameterError(DerainSegError, ValueError):
    """Node parameters that cannot work; the message lists every problem."""


@dataclass(frozen=True)
class Spec:
    name: str
    default: Any
    description: str
    choices: tuple[str, ...] = ()
    low: float | None = None  # inclusive
    high: float | None = None  # inclusive
    above: float | None = None  # exclusive

    def constraints(self) -> str:
        parts = [f"one of {', '.join(self.choices)}"] if self.choices else []
        parts += [f">= {self.low:g}"] if self.low is not None else []
        parts += [f"<= {self.high:g}"] if self.high is not None else []
        parts += [f"> {self.above:g}"] if self.above is not None else []
        return "; ".join(parts)


SPECS: tuple[Spec, ...] = (
    Spec("cameras", ["camera"], "camera namespaces: input <cam>/<input_topic>, outputs <cam>/derained/... and <cam>/segmentation/..."),
    Spec("transport", "raw", "default input transport of every camera; <cam>.transport overrides it per camera", TRANSPORTS),
    Spec("input_topic", "image_raw", "input topic under each camera namespace (+ /compressed for the compressed transport)"),
    Spec("input_reliability", "best_effort", "input QoS: best_effort (sensor-data QoS, depth 5) or reliable",
         ("best_effort", "reliable")),
    Spec("backend", "auto", "inference backend; auto tries tensorrt, onnxruntime, torch", ("auto", "tensorrt", "onnxruntime", "torch")),
    Spec("precision", "fp16", "GPU precision (CPU runs fp32)", ("fp32", "fp16", "bf16")),
    Spec("engine_cache_dir", "", "ONNX/TensorRT engine cache; empty: ~/.cache/derain_seg_ros"),
    Spec("checkpoint", "", "pipeline checkpoint (.pt); empty: the shipped embedded model"),
    Spec("process_height", 0, "processing height; 0 with process_width 0: each camera's own size", low=0),
    Spec("process_width", 0, "processing width; 0 with process_height 0: each camera's own size", low=0),
    Spec("batch", 1, "most frames (of all cameras) per engine call", low=1),
    *(Spec(o.switch, True, f"publish <cam>/{o.topic} ({o.encoding})") for o in OUTPUTS),
    Spec("overlay_alpha", 0.5, "opacity of the label colours in <cam>/segmentation/color", low=0.0, high=1.0),
    Spec("diagnostics_period_s", 1.0, "period of /diagnostics", above=0.0),
    Spec("diagnostics_window", 5, "diagnostic periods that counts and rates are taken over", low=1),
    Spec("min_rate_hz", 0.0, "a camera whose output rate falls below this warns; 0: no check", low=0.0),
)
SPEC = {s.name: s for s in SPECS}


def transport_parameter(camera: str) -> str:
    """``front`` -> ``front.transport`` (``stereo/left`` -> ``stereo.left.transport``: names cannot hold '/')."""
    return f"{camera.replace('/', '.')}.transport"


@dataclass(frozen=True)
class NodeParams:
    cameras: tuple[str, ...]
    transports: dict[str, str]  # camera -> raw | compressed
    input_topic: str
    input_reliability: str
    backend: str
    precision: str
    engine_cache_dir: str
    checkpoint: str
    process_size: tuple[int, int] | None
    batch: int
    outputs: tuple[str, ...]  # output topics switched on
    overlay_alpha: float
    diagnostics_period_s: float
    diagnostics_window: int
    min_rate_hz: float


KIND = {bool: "true or false", int: "an integer", float: "a number", str: "a string", list: "a list of strings"}


def _typed(spec: Spec, value: Any) -> tuple[Any, str | None]:
    """The value in the default's type (an int is a fine float), or why not."""
    default = spec.default
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, list):
        ok = isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
        value = list(value) if ok else value
    else:
        ok = isinstance(value, str)
    if not ok:
        return value, f"{spec.name} must be {KIND[type(default)]}, got {value!r}"
    return value, None


def _check(spec: Spec, value: Any) -> str | None:
    if spec.choices and value not in spec.choices:
        return f"{spec.name} must be one of {', '.join(spec.choices)}, got {value!r}"
    if (spec.low is not None and value < spec.low) or (spec.high is not None and value > spec.high) \
            or (spec.above is not None and value <= spec.above):
        return f"{spec.name} must be {spec.constraints()}, got {value!r}"
    return None


def camera_problems(cameras: Any) -> list[str]:
    """What is wrong with the ``cameras`` list (checked first: per-camera parameters hang off it)."""
    value, problem = _typed(SPEC["cameras"], cameras)
    if problem:
        return [problem]
    if not value:
        return ["cameras must name at least one camera namespace"]
    problems = [f"camera {c!r} is not a valid namespace (letters, digits, '_', '/' between parts)"
                for c in value if not CAMERA_NAME.match(c)]
    if len(set(value)) != len(value):
        problems.append(f"cameras lists a camera twice: {value}")
    return problems


def validate(values: Mapping[str, Any]) -> NodeParams:
    """Check every parameter; one ``ParameterError`` lists all problems. Missing keys take their default."""
    raw_cameras = values.get("cameras", SPEC["cameras"].default)
    camera_issues = camera_problems(raw_cameras)
    problems = list(camera_issues)
    p: dict[str, Any] = {}
    for spec in SPECS[1:]:
        value, problem = _typed(spec, values.get(spec.name, spec.default))
        problem = problem or _check(spec, value)
        if problem:
            problems.append(problem)
        p[spec.name] = value
    cameras = () if camera_issues else tuple(raw_cameras)
    transports = {}
    for cam in cameras:
        transport = values.get(transport_parameter(cam), p["transport"])
        if transport not in TRANSPORTS:
            problems.append(f"{transport_parameter(cam)} must be one of {', '.join(TRANSPORTS)}, got {transport!r}")
        transports[cam] = transport
    height, width = p["process_height"], p["process_width"]
    if isinstance(height, int) and isinstance(width, int) and (height > 0) != (width > 0):
        problems.append(f"process_height and process_width must both be > 0 or both 0, got {height} x {width}")
    outputs = tuple(o.topic for o in OUTPUTS if p[o.switch] is True)
    if not problems and not outputs:
        problems.append(f"every output is switched off ({', '.join(o.switch for o in OUTPUTS)}): nothing to publish")
    if problems:
        raise ParameterError("invalid parameters: " + "; ".join(problems))
    return NodeParams(
        cameras=cameras, transports=transports, input_topic=p["input_topic"], input_reliability=p["input_reliability"],
        backend=p["backend"], precision=p["precision"], engine_cache_dir=p["engine_cache_dir"], checkpoint=p["checkpoint"],
        process_size=(height, width) if height > 0 else None, batch=p["batch"], outputs=outputs,
        overlay_alpha=p["overlay_alpha"], diagnostics_period_s=p["diagnostics_period_s"],
        diagnostics_window=p["diagnostics_window"], min_rate_hz=p["min_rate_hz"])
