"""The node's parameters: one table (name, default, description, allowed values) and one check.

ROS-free, so the rules are tested without ROS. The node passes what it was given to ``validate``,
which reports every problem in one message, and then declares every parameter from this table
read-only (they are read once, at start: a ``ros2 param set`` that changed nothing would lie) and
statically typed, with its range as an integer or floating-point range, so that
``ros2 param describe`` and rqt show type and range. The parameter table in docs/ros.md is
generated from this table too (``markdown_table``; a test keeps them equal).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from derain_seg_ros.errors import DerainSegError
from derain_seg_ros.ros.outputs import INPUT_TOPIC, NODE_OUTPUTS

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
    low: float | None = None  # inclusive; numbers carry both ends, so their descriptor has a range
    high: float | None = None  # inclusive

    def __post_init__(self) -> None:
        if (
            isinstance(self.default, (int, float))
            and not isinstance(self.default, bool)
            and (self.low is None or self.high is None)
        ):
            raise ValueError(f"parameter {self.name}: a number needs both ends of its range")

    @property
    def kind(self) -> str:
        """bool, integer, double, string or string_array: the ROS parameter type."""
        return {bool: "bool", int: "integer", float: "double", str: "string", list: "string_array"}[type(self.default)]

    def constraints(self) -> str:
        parts = [f"one of {', '.join(self.choices)}"] if self.choices else []
        parts += [f">= {self.low:g}"] if self.low is not None else []
        parts += [f"<= {self.high:g}"] if self.high is not None else []
        return "; ".join(parts)


SPECS: tuple[Spec, ...] = (
    Spec(
        "cameras",
        ["camera"],
        "camera namespaces: input <cam>/<input_topic>, outputs <cam>/derained/... and <cam>/segmentation/...",
    ),
    Spec(
        "transport",
        "raw",
        "default input transport of every camera; <cam>.transport overrides it per camera",
        TRANSPORTS,
    ),
    Spec(
        "input_topic",
        INPUT_TOPIC,
        "input topic under each camera namespace (+ /compressed for the compressed transport)",
    ),
    Spec(
        "input_reliability",
        "best_effort",
        "input QoS: best_effort (sensor-data QoS, depth 5) or reliable",
        ("best_effort", "reliable"),
    ),
    Spec(
        "backend",
        "auto",
        "inference backend; auto takes the first of tensorrt, onnxruntime, torch that runs here "
        "and says in /diagnostics and /rosout what it skipped; a named one runs as asked or stops the node at start",
        ("auto", "tensorrt", "onnxruntime", "torch"),
    ),
    Spec(
        "fallback",
        False,
        "with a named backend: hand over to the next of tensorrt, onnxruntime, torch (and to fp32 "
        "on a CPU) instead of stopping when it cannot run as asked; reported like auto's choice",
    ),
    Spec(
        "precision", "fp16", "GPU precision; with backend auto (or fallback) a CPU runs fp32", ("fp32", "fp16", "bf16")
    ),
    Spec("device", "", "torch device (cpu, cuda, cuda:1); empty: CUDA when present, else the CPU"),
    Spec(
        "cuda_graph", False, "torch on CUDA: capture the graph once per frame size and replay it (less launch overhead)"
    ),
    Spec("engine_cache_dir", "", "ONNX/TensorRT engine cache; empty: ~/.cache/derain_seg_ros"),
    Spec("checkpoint", "", "pipeline checkpoint (.pt); empty: the shipped embedded model"),
    Spec("process_height", 0, "processing height; 0 with process_width 0: each camera's own size", low=0, high=8192),
    Spec("process_width", 0, "processing width; 0 with process_height 0: each camera's own size", low=0, high=8192),
    Spec("batch", 1, "most frames (of all cameras) per engine call", low=1, high=64),
    *(
        Spec(
            o.switch,
            o.default,
            f"publish <cam>/{o.topic} ({o.encoding})"
            + (
                "; the segmenter on the rainy frame, a second segmenter pass (torch backend only)"
                if not o.default
                else ""
            ),
        )
        for o in NODE_OUTPUTS
    ),
    Spec("overlay_alpha", 0.5, "opacity of the label colours in <cam>/segmentation/color", low=0.0, high=1.0),
    Spec("diagnostics_period_s", 1.0, "period of /diagnostics", low=0.01, high=60.0),
    Spec("diagnostics_window", 5, "diagnostic periods that counts and rates are taken over", low=1, high=1000),
    Spec("min_rate_hz", 0.0, "a camera whose output rate falls below this warns; 0: no check", low=0.0, high=1000.0),
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
    fallback: bool
    precision: str
    device: str
    cuda_graph: bool
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
    if (spec.low is not None and value < spec.low) or (spec.high is not None and value > spec.high):
        return f"{spec.name} must be {spec.constraints()}, got {value!r}"
    return None


def camera_problems(cameras: Any) -> list[str]:
    """What is wrong with the ``cameras`` list (checked first: per-camera parameters hang off it)."""
    value, problem = _typed(SPEC["cameras"], cameras)
    if problem:
        return [problem]
    if not value:
        return ["cameras must name at least one camera namespace"]
    problems = [
        f"camera {c!r} is not a valid namespace (letters, digits, '_', '/' between parts)"
        for c in value
        if not CAMERA_NAME.match(c)
    ]
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
    outputs = tuple(o.topic for o in NODE_OUTPUTS if p[o.switch] is True)
    if not problems and not outputs:
        problems.append(
            f"every output is switched off ({', '.join(o.switch for o in NODE_OUTPUTS)}): nothing to publish"
        )
    device = p["device"]
    if isinstance(device, str) and device and not re.match(r"^(cpu|cuda(:\d+)?)$", device):
        problems.append(f"device must be empty, cpu, cuda or cuda:N, got {device!r}")
    if problems:
        raise ParameterError("invalid parameters: " + "; ".join(problems))
    return NodeParams(
        cameras=cameras,
        transports=transports,
        input_topic=p["input_topic"],
        input_reliability=p["input_reliability"],
        backend=p["backend"],
        fallback=p["fallback"],
        precision=p["precision"],
        device=p["device"],
        cuda_graph=p["cuda_graph"],
        engine_cache_dir=p["engine_cache_dir"],
        checkpoint=p["checkpoint"],
        process_size=(height, width) if height > 0 else None,
        batch=p["batch"],
        outputs=outputs,
        overlay_alpha=p["overlay_alpha"],
        diagnostics_period_s=p["diagnostics_period_s"],
        diagnostics_window=p["diagnostics_window"],
        min_rate_hz=p["min_rate_hz"],
    )


def typed_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter of the table in its declared type (``validate`` has passed): what the node declares."""
    return {spec.name: _typed(spec, values.get(spec.name, spec.default))[0] for spec in SPECS}


TABLE_HEADER = ("| Parameter | Type | Default | Allowed | Description |", "|---|---|---|---|---|")


def markdown_table() -> str:
    """The parameter table of docs/ros.md, from ``SPECS`` (a test keeps the document equal to it)."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")

    rows = [
        f"| `{s.name}` | {s.kind} | `{json.dumps(s.default)}` | {cell(s.constraints()) or '-'} | {cell(s.description)} |"
        for s in SPECS
    ]
    rows.append(
        "| `&lt;cam&gt;.transport` | string | value of `transport` | one of raw, compressed | input transport of "
        "one camera (`stereo/left` -&gt; `stereo.left.transport`) |"
    )
    return "\n".join((*TABLE_HEADER, *rows)) + "\n"
