"""The node's parameter rules, without ROS: types, ranges, choices, per-camera transport, one message."""

from __future__ import annotations

from pathlib import Path

import pytest

from derain_seg_ros.ros.outputs import DERAINED, LABEL
from derain_seg_ros.ros.params import SPECS, ParameterError, markdown_table, transport_parameter, validate

DOC = Path(__file__).resolve().parent.parent / "docs" / "ros.md"
BEGIN, END = "<!-- parameters: generated from derain_seg_ros/ros/params.py SPECS -->", "<!-- end of parameters -->"


def test_defaults_are_valid() -> None:
    p = validate({})
    assert p.cameras == ("camera",) and p.transports == {"camera": "raw"} and p.process_size is None


def test_an_int_where_a_float_is_expected_is_taken_as_the_float() -> None:
    assert validate({"overlay_alpha": 1}).overlay_alpha == 1.0


def test_every_problem_is_reported_in_one_message() -> None:
    with pytest.raises(ParameterError) as err:
        validate(
            {
                "overlay_alpha": 2.0,
                "input_reliability": "best-effort",
                "process_height": 512,
                "process_width": 0,
                "batch": 0,
                "backend": "cuda",
            }
        )
    message = str(err.value)
    assert message.startswith("invalid parameters: ") and "\n" not in message
    for part in (
        "overlay_alpha must be >= 0; <= 1, got 2.0",
        "input_reliability must be one of best_effort, reliable",
        "process_height and process_width must both be > 0 or both 0, got 512 x 0",
        "batch must be >= 1",
        "backend must be one of auto, tensorrt, onnxruntime, torch, got 'cuda'",
    ):
        assert part in message


@pytest.mark.parametrize(
    "values, expected",
    [
        ({"batch": 2.5}, "batch must be an integer, got 2.5"),
        ({"publish_color": 1}, "publish_color must be true or false"),
        ({"cameras": []}, "cameras must name at least one camera namespace"),
        ({"cameras": ["front", "front"]}, "lists a camera twice"),
        ({"cameras": ["front", "1rear"]}, "camera '1rear' is not a valid namespace"),
        ({"cameras": "front"}, "cameras must be a list of strings"),
        ({"publish_derained": False, "publish_label": False, "publish_color": False}, "every output is switched off"),
        ({"diagnostics_period_s": 0.0}, "diagnostics_period_s must be >= 0.01; <= 60"),
        ({"device": "gpu0"}, "device must be empty, cpu, cuda or cuda:N"),
        ({"batch": 65}, "batch must be >= 1; <= 64, got 65"),
    ],
)
def test_wrong_values_are_named(values: dict, expected: str) -> None:
    with pytest.raises(ParameterError, match=expected):
        validate(values)


def test_transport_is_per_camera_with_the_global_one_as_default() -> None:
    p = validate(
        {
            "cameras": ["front", "rear", "stereo/left"],
            "transport": "raw",
            "rear.transport": "compressed",
            transport_parameter("stereo/left"): "compressed",
        }
    )
    assert p.transports == {"front": "raw", "rear": "compressed", "stereo/left": "compressed"}
    assert transport_parameter("stereo/left") == "stereo.left.transport"
    with pytest.raises(ParameterError, match="rear.transport must be one of raw, compressed, got 'jpeg'"):
        validate({"cameras": ["front", "rear"], "rear.transport": "jpeg"})


def test_switched_off_outputs_are_left_out() -> None:
    assert validate({"publish_color": False}).outputs == (DERAINED, LABEL)


def test_every_parameter_has_a_description() -> None:
    assert all(s.description for s in SPECS)


def test_every_number_has_a_range_its_descriptor_can_carry() -> None:
    """ros2 param describe shows integer/floating-point ranges, not a range in the description text."""
    for spec in SPECS:
        if spec.kind in ("integer", "double"):
            assert spec.low is not None and spec.high is not None and spec.low <= spec.default <= spec.high, spec.name


def test_the_parameter_table_in_docs_is_the_one_generated_from_the_specs() -> None:
    """Regenerate with: python -c 'from derain_seg_ros.ros.params import markdown_table; print(markdown_table())'."""
    text = DOC.read_text()
    assert BEGIN in text and END in text, f"{DOC} lacks the generated-table markers"
    table = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert table == markdown_table().strip(), "docs/ros.md's parameter table differs from params.SPECS: regenerate it"


def test_the_explicit_backend_and_device_parameters_are_read() -> None:
    p = validate(
        {"backend": "tensorrt", "fallback": True, "device": "cuda:1", "cuda_graph": True, "publish_label_raw": True}
    )
    assert (p.backend, p.fallback, p.device, p.cuda_graph) == ("tensorrt", True, "cuda:1", True)
    assert LABEL in p.outputs and "segmentation/label_raw" in p.outputs
    assert "segmentation/label_raw" not in validate({}).outputs  # off by default
