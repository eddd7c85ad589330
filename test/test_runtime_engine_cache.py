"""The TensorRT engine cache, with a fake builder (the real build needs TensorRT and a GPU)."""

from __future__ import annotations

from pathlib import Path

import pytest

from derain_seg_ros.runtime.engine_cache import EngineKey, cache_path, load_or_build


class FakeBuilder:
    def __init__(self, payload: bytes = b"serialised-engine") -> None:
        self.payload = payload
        self.calls = 0

    def __call__(self) -> bytes:
        self.calls += 1
        return self.payload


@pytest.fixture
def onnx_file(tmp_path: Path) -> Path:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"onnx-graph-v1")
    return path


def key(onnx: Path, precision: str = "fp16", gpu: str = "NVIDIA H100") -> EngineKey:
    return EngineKey.for_onnx(onnx, precision, "10.9.0", gpu)


def test_key_changes_with_onnx_bytes_precision_and_gpu(onnx_file: Path, tmp_path: Path) -> None:
    base = key(onnx_file)
    other = tmp_path / "other.onnx"
    other.write_bytes(b"onnx-graph-v2")
    variants = [key(other), key(onnx_file, precision="fp32"), key(onnx_file, gpu="Orin"),
                EngineKey.for_onnx(onnx_file, "fp16", "11.0.0", "NVIDIA H100")]
    assert all(v.digest() != base.digest() for v in variants)
    assert key(onnx_file).digest() == base.digest()


def test_good_cache_is_reused_without_building(onnx_file: Path, tmp_path: Path) -> None:
    builder = FakeBuilder()
    engine, built = load_or_build(tmp_path / "cache", key(onnx_file), builder)
    assert built and engine == b"serialised-engine" and builder.calls == 1
    engine, built = load_or_build(tmp_path / "cache", key(onnx_file), builder)
    assert not built and engine == b"serialised-engine" and builder.calls == 1


def test_corrupt_cache_file_is_rebuilt_not_trusted(onnx_file: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    k = key(onnx_file)
    load_or_build(cache, k, FakeBuilder())
    path = cache_path(cache, k)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF  # flip engine bytes: checksum no longer matches
    path.write_bytes(bytes(data))
    builder = FakeBuilder(b"rebuilt")
    engine, built = load_or_build(cache, k, builder)
    assert built and engine == b"rebuilt" and builder.calls == 1
    path.write_bytes(b"garbage without a header")
    engine, built = load_or_build(cache, k, FakeBuilder(b"again"))
    assert built and engine == b"again"


def test_stale_cache_for_another_key_is_rebuilt(onnx_file: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    old, new = key(onnx_file, gpu="Tesla T4"), key(onnx_file)
    load_or_build(cache, old, FakeBuilder(b"t4-engine"))
    # A file for the old key sitting where the new key's file goes must not be trusted.
    cache_path(cache, new).write_bytes(cache_path(cache, old).read_bytes())
    builder = FakeBuilder(b"h100-engine")
    engine, built = load_or_build(cache, new, builder)
    assert built and engine == b"h100-engine"


def test_real_tensorrt_build_where_available(tmp_path: Path) -> None:
    pytest.importorskip("tensorrt", reason="TensorRT is not installed (needs NVIDIA's wheel and a GPU)")
    import torch

    if not torch.cuda.is_available():
        pytest.skip("TensorRT is installed but no CUDA GPU is present")
    import numpy as np

    from derain_seg_ros.nets.config import PipelineConfig
    from derain_seg_ros.runtime.engine import make_engine

    engine = make_engine("tensorrt", config=PipelineConfig.small(), precision="fp16", height=64, width=96,
                         cache_dir=tmp_path, fallback=False)
    out = engine.infer([np.zeros((64, 96, 3), np.uint8)])
    assert out.derained.shape == (1, 64, 96, 3) and out.labels.shape == (1, 64, 96)
    assert list(tmp_path.glob("*.engine"))
