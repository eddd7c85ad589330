"""The deployment commands end to end: export, infer (two backends), demo, bench."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from derain_seg_ros.cli import main
from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.runtime.checkpoint import save_checkpoint


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "small.pt", DerainSegPipeline(PipelineConfig.small()))


def test_export_writes_named_uint8_outputs(checkpoint: Path, tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")  # a test extra: `colcon test` without it must still collect
    out = tmp_path / "p.onnx"
    assert main(["export", "--checkpoint", str(checkpoint), "--height", "40", "--width", "56", "--batch", "2",
                 "--dynamic", "--out", str(out)]) == 0
    graph = onnx.load(str(out)).graph
    assert [o.name for o in graph.output] == ["derained", "labels"]
    assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert graph.output[1].type.tensor_type.elem_type == onnx.TensorProto.UINT8


def test_export_without_tensorrt_says_why(checkpoint: Path, tmp_path: Path) -> None:
    try:
        import tensorrt  # noqa: F401

        pytest.skip("TensorRT is installed here: the refusal path is not exercised")
    except ImportError:
        pass
    with pytest.raises(SystemExit, match="TensorRT"):
        main(["export", "--checkpoint", str(checkpoint), "--height", "32", "--width", "32", "--out",
              str(tmp_path / "p.onnx"), "--build-engine"])


def test_build_engine_builds_from_the_onnx_graph_the_node_will_use(checkpoint: Path, tmp_path: Path, monkeypatch) -> None:
    """A prebuilt engine is only found at start-up if it was built from the node's own cached ONNX
    file (the cache key holds its hash). TensorRT itself is faked: only the wiring is under test."""
    from derain_seg_ros.runtime import trt_engine
    from derain_seg_ros.runtime.engine import make_engine

    built_from: list[Path] = []

    class FakeTensorRTEngine:
        name, max_batch = "tensorrt", 2

        @classmethod
        def from_onnx(cls, onnx_path, precision="fp16", batch=1, cache_dir="."):
            built_from.append(Path(onnx_path))
            return cls()

        def close(self) -> None:
            pass

    monkeypatch.setattr(trt_engine, "trt_available", lambda: None)
    monkeypatch.setattr(trt_engine, "TensorRTEngine", FakeTensorRTEngine)
    cache, out = tmp_path / "cache", tmp_path / "copy.onnx"
    assert main(["export", "--checkpoint", str(checkpoint), "--height", "32", "--width", "48", "--batch", "2",
                 "--build-engine", "--cache-dir", str(cache), "--out", str(out)]) == 0
    make_engine("tensorrt", checkpoint, precision="fp16", height=32, width=48, batch=2, cache_dir=cache, fallback=False)
    assert len(built_from) == 2 and built_from[0] == built_from[1] and built_from[0].parent == cache
    assert out.read_bytes() == built_from[0].read_bytes()
    with pytest.raises(SystemExit, match="drop --dynamic"):
        main(["export", "--checkpoint", str(checkpoint), "--height", "32", "--width", "48", "--build-engine", "--dynamic"])


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_infer_writes_four_images_per_input_and_skips_unreadable_files(checkpoint: Path, tmp_path: Path, backend: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.full((30, 44, 3), 90, np.uint8))
    (folder / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    assert main(["infer", str(folder), "--checkpoint", str(checkpoint), "--backend", backend, "--cache-dir",
                 str(tmp_path / "cache"), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a_color.png", "a_derained.png", "a_labels.png", "a_overlay.png"]
    assert cv2.imread(str(out / "a_labels.png"), cv2.IMREAD_UNCHANGED).shape == (30, 44)


def test_demo_writes_the_sheet(checkpoint: Path, tmp_path: Path) -> None:
    assert main(["demo", "--checkpoint", str(checkpoint), "--size", "48x96", "--out", str(tmp_path)]) == 0
    sheet = cv2.imread(str(tmp_path / "sheet.png"))
    assert sheet.shape == (3 * 48, 2 * 96, 3)
    assert {p.name for p in tmp_path.iterdir()} >= {"rainy.png", "derained.png", "overlay.png", "attention.png"}


def test_bench_appends_a_dated_table(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    for _ in range(2):
        assert main(["bench", "--config", "small", "--size", "32x64", "--runs", "2", "--warmup", "1", "--out", str(results)]) == 0
    text = results.read_text()
    assert text.count("| setting | stage |") == 2 and text.count("| pipeline |") == 2


def test_bench_times_every_backend_that_runs_and_skips_the_rest(tmp_path: Path, capsys) -> None:
    results = tmp_path / "RESULTS.md"
    assert main(["bench", "--config", "small", "--sizes", "32x64", "--batches", "1", "2", "--backends", "torch", "onnxruntime",
                 "tensorrt", "--runs", "2", "--warmup", "1", "--out", str(results)]) == 0
    text = results.read_text()
    for batch in (1, 2):
        assert f"| onnxruntime fp32, 32x64, batch {batch}, small | pipeline (end to end) |" in text
        assert f"| torch fp32, 32x64, batch {batch}, small | SRRN |" in text
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        assert "skipped tensorrt fp32, 32x64" in capsys.readouterr().out and "| tensorrt" not in text


def test_infer_keeps_sub_folders_apart_and_names_a_missing_checkpoint(checkpoint: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    cv2.imwrite(str(folder / "x.png"), np.full((24, 40, 3), 60, np.uint8))
    cv2.imwrite(str(folder / "sub" / "x.png"), np.full((30, 20, 3), 200, np.uint8))
    out = tmp_path / "out"
    assert main(["infer", str(folder), "--checkpoint", str(checkpoint), "--backend", "torch", "--out", str(out)]) == 0
    assert cv2.imread(str(out / "x_labels.png"), cv2.IMREAD_UNCHANGED).shape == (24, 40)
    assert cv2.imread(str(out / "sub" / "x_labels.png"), cv2.IMREAD_UNCHANGED).shape == (30, 20)
    with pytest.raises(SystemExit, match="checkpoint not found"):
        main(["infer", str(folder), "--checkpoint", str(tmp_path / "nope.pt"), "--out", str(out)])


@pytest.mark.parametrize("argv", [
    ["demo", "--checkpoint", "{tmp}/nope.pt", "--out", "{tmp}/o"],
    ["export", "--checkpoint", "{tmp}/nope.pt", "--height", "32", "--width", "32", "--out", "{tmp}/p.onnx"],
    ["bag", "{tmp}/no_bag", "{tmp}/out"],
    ["synth", "--source", "cityscapes", "--root", "{tmp}/no_cityscapes", "--out", "{tmp}/data", "--count", "2"],
])
def test_commands_end_with_one_clear_line_on_bad_input(tmp_path: Path, argv: list[str]) -> None:
    with pytest.raises(SystemExit, match=r"^error: .*(not found|cannot open bag|does not exist)"):
        main([a.format(tmp=tmp_path) for a in argv])
