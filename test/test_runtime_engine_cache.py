"""The TensorRT engine cache and precision decision, with TensorRT faked at its edges (the real
build needs TensorRT and a GPU): the factory, the ONNX export and the cache run for real."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from types import SimpleNamespace

import onnx
import pytest

from derain_seg_ros.cli import main
from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.runtime import trt_engine
from derain_seg_ros.runtime.checkpoint import save_checkpoint
from derain_seg_ros.runtime.engine import BackendUnavailable
from derain_seg_ros.runtime.engine_cache import EngineKey, cache_path, load_or_build, read_cached
from derain_seg_ros.runtime.engine_spec import EngineSpec
from derain_seg_ros.runtime.factory import make_engine

SMALL = PipelineConfig.small()
NO_SRRN = dataclasses.replace(SMALL, num_srrb=0)  # the quickest graph to export: weights and depth do not matter here


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
    variants = [
        key(other),
        key(onnx_file, precision="fp32"),
        key(onnx_file, gpu="Orin"),
        EngineKey.for_onnx(onnx_file, "fp16", "11.0.0", "NVIDIA H100"),
    ]
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

    engine = make_engine(
        EngineSpec("tensorrt", config=SMALL, precision="fp16", size=(64, 96), cache_dir=tmp_path, fallback=False)
    )
    out = engine.infer([np.zeros((64, 96, 3), np.uint8)])
    assert out.derained.shape == (1, 64, 96, 3) and out.labels.shape == (1, 64, 96)
    assert list(tmp_path.glob("*.engine"))


@pytest.fixture
def fake_tensorrt(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """TensorRT's version, GPU, builder and deserialiser faked; ``builds`` records each real build."""
    state = SimpleNamespace(version="10.9.0", builds=[])

    def build(onnx_path: Path, precision: str, batch: int, timing_cache: Path) -> bytes:
        state.builds.append((Path(onnx_path), precision, batch))
        return f"engine {precision} b{batch}".encode()

    def deserialise(self, engine_bytes: bytes) -> None:
        self.engine_bytes, self.max_batch = engine_bytes, 1

    monkeypatch.setattr(trt_engine, "trt_version", lambda: state.version)
    monkeypatch.setattr(trt_engine, "gpu_name", lambda: "Fake GPU")
    monkeypatch.setattr(trt_engine, "build_engine_bytes", build)
    monkeypatch.setattr(trt_engine.TensorRTEngine, "__init__", deserialise)
    return state


def graph_float_types(path: Path) -> set[int]:
    return {
        t.data_type
        for t in onnx.load(str(path)).graph.initializer
        if t.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16)
    }


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the precision tests: the fp32 graph they all need is exported once."""
    return tmp_path_factory.mktemp("cache")


def test_tensorrt_11_with_bf16_builds_fp32_says_so_once_and_caches_it_as_fp32(
    fake_tensorrt, shared_cache: Path, caplog
) -> None:
    fake_tensorrt.version = "11.1.0"
    spec = EngineSpec("tensorrt", config=NO_SRRN, precision="bf16", size=(32, 48), cache_dir=shared_cache)
    with caplog.at_level(logging.INFO):
        engine = make_engine(spec)
    assert [precision for _, precision, _ in fake_tensorrt.builds] == ["fp32"]
    assert graph_float_types(engine.onnx_path) == {onnx.TensorProto.FLOAT}
    key = EngineKey.for_onnx(engine.onnx_path, "fp32", "11.1.0", "Fake GPU")
    assert cache_path(shared_cache, key).name.startswith("pipeline_fp32_")
    assert read_cached(cache_path(shared_cache, key), key) == b"engine fp32 b1"
    said = [r.getMessage() for r in caplog.records if "bf16 asked" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("engine: tensorrt fp32") and "bf16 asked, building fp32" in said[0]
    with pytest.raises(BackendUnavailable, match="use fp16 or fp32"):
        make_engine(spec.with_(fallback=False))  # asked for explicitly: refused, never silently changed


def test_tensorrt_11_fp16_builds_from_a_half_graph_and_tensorrt_10_shares_one_fp32_graph(
    fake_tensorrt, shared_cache: Path
) -> None:
    fake_tensorrt.version = "11.1.0"
    spec = EngineSpec("tensorrt", config=NO_SRRN, size=(32, 48), cache_dir=shared_cache)
    half = make_engine(spec.with_(precision="fp16"))
    assert graph_float_types(half.onnx_path) == {onnx.TensorProto.FLOAT16}
    fake_tensorrt.version = "10.9.0"
    fp16, fp32 = make_engine(spec.with_(precision="fp16")), make_engine(spec.with_(precision="fp32"))
    assert fp16.onnx_path == fp32.onnx_path and graph_float_types(fp32.onnx_path) == {onnx.TensorProto.FLOAT}
    assert [p for _, p, _ in fake_tensorrt.builds] == ["fp16", "fp16", "fp32"]  # TRT 11, then TRT 10 twice
    assert (fp16.engine_bytes, fp32.engine_bytes) == (b"engine fp16 b1", b"engine fp32 b1")


def test_export_build_engine_prebuilds_what_the_node_then_loads(fake_tensorrt, tmp_path: Path) -> None:
    """A prebuilt engine is only found at start-up if it was built from the node's own cached ONNX
    file (the cache key holds its hash): the second make_engine must load, not build."""
    checkpoint = save_checkpoint(tmp_path / "small.pt", DerainSegPipeline.from_config(SMALL))
    cache, out = tmp_path / "cache", tmp_path / "copy.onnx"
    assert (
        main(
            [
                "export",
                "--checkpoint",
                str(checkpoint),
                "--height",
                "32",
                "--width",
                "48",
                "--batch",
                "2",
                "--build-engine",
                "--cache-dir",
                str(cache),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    engine = make_engine(
        EngineSpec("tensorrt", checkpoint, precision="fp16", size=(32, 48), batch=2, cache_dir=cache, fallback=False)
    )
    assert len(fake_tensorrt.builds) == 1 and engine.engine_bytes == b"engine fp16 b2"
    assert fake_tensorrt.builds[0][0] == engine.onnx_path and engine.onnx_path.parent == cache
    assert out.read_bytes() == engine.onnx_path.read_bytes()
    with pytest.raises(SystemExit, match="drop --dynamic"):
        main(
            [
                "export",
                "--checkpoint",
                str(checkpoint),
                "--height",
                "32",
                "--width",
                "48",
                "--build-engine",
                "--dynamic",
            ]
        )
