"""Pre/postprocessing, the torch engine, ONNX parity through onnxruntime, and the backend factory."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.runtime.engine import BackendUnavailable
from derain_seg_ros.runtime.engine_spec import EngineSpec, EngineSpecError
from derain_seg_ros.runtime.factory import make_engine
from derain_seg_ros.runtime.frame_pipeline import FramePipeline
from derain_seg_ros.runtime.onnx_export import export_onnx
from derain_seg_ros.runtime.postprocess import overlay
from derain_seg_ros.runtime.preprocess import to_float_nchw, to_uint8_hwc
from derain_seg_ros.runtime.torch_engine import TorchEngine

SMALL = PipelineConfig.small()


def frames(n: int, h: int, w: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]


@pytest.mark.parametrize("shape", [(37, 53, 3), (2, 5, 7, 3)])
def test_uint8_float_uint8_round_trip_is_exact(shape: tuple[int, ...]) -> None:
    x = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    t = to_float_nchw(x)
    assert t.dtype == torch.float32 and t.shape[1] == 3 and float(t.max()) <= 1.0
    back = to_uint8_hwc(t)
    assert np.array_equal(back, x if x.ndim == 4 else x[None])


def test_preprocess_rejects_wrong_dtype_and_layout() -> None:
    with pytest.raises(TypeError, match="uint8"):
        to_float_nchw(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="H x W x 3"):
        to_float_nchw(np.zeros((3, 4, 4), np.uint8))


def test_overlay_blends_colours_and_keeps_ignored_pixels() -> None:
    rgb = np.full((2, 2, 3), 100, np.uint8)
    labels = np.array([[0, 255], [13, 255]], np.uint8)
    out = overlay(rgb, labels, alpha=0.5)
    assert out[0, 0].tolist() == [114, 82, 114]  # halfway to road (128, 64, 128)
    assert out[0, 1].tolist() == [100, 100, 100]


def test_torch_engine_equals_calling_the_pipeline() -> None:
    torch.manual_seed(0)
    pipeline = DerainSegPipeline.from_config(SMALL).eval()
    engine = TorchEngine(pipeline)
    batch = frames(2, 37, 53)
    out = engine.infer(batch)
    with torch.no_grad():
        direct = pipeline(to_float_nchw(batch))
    assert out.derained.shape == (2, 37, 53, 3) and out.derained.dtype == np.uint8
    assert out.labels.shape == (2, 37, 53) and out.labels.dtype == np.uint8
    assert np.array_equal(out.derained, to_uint8_hwc(direct["derained"]))
    assert np.array_equal(out.labels, direct["labels"].numpy().astype(np.uint8))


def test_engine_refuses_mixed_sizes_and_bad_frames() -> None:
    engine = make_engine(EngineSpec("torch", config=SMALL))
    with pytest.raises(ValueError, match="share a size"):
        engine.infer(frames(1, 20, 20) + frames(1, 21, 20))
    with pytest.raises(ValueError, match="uint8"):
        engine.infer([np.zeros((20, 20, 3), np.float32)])


def test_onnx_export_matches_torch_through_onnxruntime(tmp_path: Path) -> None:
    torch.manual_seed(0)
    pipeline = DerainSegPipeline.from_config(SMALL).eval()
    ort = pytest.importorskip(
        "onnxruntime", reason="onnxruntime is a test extra, absent under `colcon test` without it"
    )
    path = export_onnx(pipeline, tmp_path / "small.onnx", 45, 61, batch=2, with_logits=True)
    batch = np.stack(frames(2, 45, 61, seed=3))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    derained_u8, labels, logits = session.run(None, {"rainy": batch})
    with torch.no_grad():
        ref = pipeline(to_float_nchw(batch))
        ref_u8, ref_labels, _ = FramePipeline(pipeline, with_logits=True)(torch.from_numpy(batch))
    # Float parity through the logits path and the uint8 image within one level of rounding.
    assert np.abs(logits - ref["logits"].numpy()).max() < 1e-3
    assert np.abs(derained_u8.astype(int) - ref_u8.numpy().astype(int)).max() <= 1
    assert (labels == ref_labels.numpy()).mean() >= 0.999


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the factory tests: a graph they share is exported once."""
    return tmp_path_factory.mktemp("cache")


def test_onnxruntime_engine_through_the_factory(cache: Path) -> None:
    engine = make_engine(EngineSpec("onnxruntime", config=SMALL, size=(33, 47), cache_dir=cache))
    assert engine.name == "onnxruntime"
    reference = make_engine(EngineSpec("torch", config=SMALL))
    batch = frames(1, 33, 47, seed=5)
    a, b = engine.infer(batch), reference.infer(batch)
    assert (a.labels == b.labels).mean() >= 0.999
    assert np.abs(a.derained.astype(int) - b.derained.astype(int)).max() <= 1
    with pytest.raises(ValueError, match="exported for 33x47"):
        engine.infer(frames(1, 32, 47))


def test_tensorrt_unavailable_here_is_clear_and_auto_falls_back(cache: Path, caplog) -> None:
    try:
        import tensorrt  # noqa: F401

        have_trt = torch.cuda.is_available()
    except ImportError:
        have_trt = False
    if have_trt:
        pytest.skip("TensorRT and a GPU are present: the fallback path is not exercised")
    with pytest.raises(BackendUnavailable, match="tensorrt"):
        make_engine(EngineSpec("tensorrt", config=SMALL, size=(33, 47), fallback=False, cache_dir=cache))
    with caplog.at_level(logging.INFO):
        engine = make_engine(EngineSpec("auto", config=SMALL, size=(33, 47), cache_dir=cache))
    assert engine.name in ("onnxruntime", "torch")
    said = [r.getMessage() for r in caplog.records if "tensorrt is not installed" in r.getMessage()]
    assert len(said) == 1 and "skipped tensorrt:" in said[0]  # once, in the line that names the engine chosen


def test_fp16_on_cpu_is_refused_or_resolved_to_fp32_and_said_once(caplog) -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: fp16 is valid there")
    with pytest.raises(BackendUnavailable, match="CUDA"):
        make_engine(EngineSpec("torch", config=SMALL, precision="fp16", fallback=False))
    with caplog.at_level(logging.INFO):
        assert make_engine(EngineSpec("torch", config=SMALL, precision="fp16", fallback=True)).precision == "fp32"
    said = [r.getMessage() for r in caplog.records if "fp16" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("engine: torch fp32, cpu") and "fp16 asked" in said[0]
    with pytest.raises(EngineSpecError, match="unknown backend"):
        EngineSpec("tflite", config=SMALL)


def test_spec_needs_weights_or_a_config_and_a_positive_batch() -> None:
    with pytest.raises(EngineSpecError, match="checkpoint"):
        EngineSpec("torch")
    with pytest.raises(EngineSpecError, match="batch"):
        EngineSpec("torch", config=SMALL, batch=0)


def test_missing_checkpoint_is_named_by_every_backend(tmp_path: Path) -> None:
    from derain_seg_ros.runtime.checkpoint import CheckpointError

    for backend in ("torch", "onnxruntime", "auto"):
        with pytest.raises(CheckpointError, match="not found"):
            make_engine(EngineSpec(backend, tmp_path / "missing.pt", size=(32, 32), cache_dir=tmp_path))


def test_onnxruntime_engine_batch_is_a_maximum_not_a_fixed_size(tmp_path: Path) -> None:
    """The node sends whatever cameras have waiting: one frame or two to an engine made for two."""
    engine = make_engine(EngineSpec("onnxruntime", config=SMALL, size=(24, 40), batch=2, cache_dir=tmp_path))
    reference = make_engine(EngineSpec("torch", config=SMALL))
    two = frames(2, 24, 40, seed=6)
    assert engine.infer(two[:1]).labels.shape == (1, 24, 40)
    out = engine.infer(two)
    assert out.labels.shape == (2, 24, 40)
    assert (out.labels == reference.infer(two).labels).mean() >= 0.999
    with pytest.raises(ValueError, match="at most 2"):
        engine.infer(frames(3, 24, 40))
