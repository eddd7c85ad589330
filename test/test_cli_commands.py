"""The deployment commands end to end: export, infer (two backends and an exported graph), bag
with the shipped model, demo, bench, and what a user sees on bad input or --help."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from derain_seg_ros.bags.demo_drive import make_demo_bag
from derain_seg_ros.cli import main
from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.runtime import shipped
from derain_seg_ros.runtime.checkpoint import save_checkpoint


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_checkpoint(
        tmp_path_factory.mktemp("ckpt") / "small.pt", DerainSegPipeline.from_config(PipelineConfig.small())
    )


@pytest.fixture(scope="module")
def graph_24x40(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What a user gets from `derain-seg export` at 24x40 with a free batch axis (up to 2)."""
    out = tmp_path_factory.mktemp("graph") / "model.onnx"
    assert (
        main(
            [
                "export",
                "--checkpoint",
                str(checkpoint),
                "--height",
                "24",
                "--width",
                "40",
                "--batch",
                "2",
                "--dynamic",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    return out


def test_export_writes_named_uint8_outputs(graph_24x40: Path) -> None:
    onnx = pytest.importorskip("onnx", reason="onnx is a test extra, absent under `colcon test` without it")
    graph = onnx.load(str(graph_24x40)).graph
    assert [o.name for o in graph.output] == ["derained", "labels"]
    assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert graph.output[1].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"  # --dynamic


def test_infer_runs_an_exported_graph_and_resizes_other_sizes_to_it(graph_24x40: Path, tmp_path: Path, caplog) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    cv2.imwrite(str(folder / "same.png"), np.full((24, 40, 3), 90, np.uint8))
    cv2.imwrite(str(folder / "other.png"), np.full((30, 44, 3), 90, np.uint8))
    cv2.imwrite(str(folder / "other2.png"), np.full((30, 44, 3), 30, np.uint8))
    with caplog.at_level(logging.INFO):
        assert main(["infer", str(folder), "--checkpoint", str(graph_24x40), "--out", str(tmp_path / "out")]) == 0
    for name, shape in (("same", (24, 40)), ("other", (30, 44)), ("other2", (30, 44))):
        assert cv2.imread(str(tmp_path / "out" / f"{name}_labels.png"), cv2.IMREAD_UNCHANGED).shape == shape
    said = [r.getMessage() for r in caplog.records if "fixed size" in r.getMessage()]
    assert said == ["model.onnx has a fixed size of 24x40: 30x44 frames are resized to it and the results back"]
    assert any(
        r.getMessage().startswith("engine: onnxruntime fp32, 24x40, batch 1, model.onnx") for r in caplog.records
    )


def test_an_exported_graph_that_cannot_serve_is_one_clear_line(graph_24x40: Path, tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx", reason="onnx is a test extra, absent under `colcon test` without it")
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), np.full((24, 40, 3), 90, np.uint8))
    with pytest.raises(
        SystemExit, match=r"^error: no backend could run: torch: it runs pipeline checkpoints \(\.pt\); model\.onnx"
    ):
        main(
            ["infer", str(image), "--checkpoint", str(graph_24x40), "--backend", "torch", "--out", str(tmp_path / "o")]
        )
    fixed_two = tmp_path / "two.onnx"  # the input of an export with --batch 2 and no --dynamic (only its shape is read)
    rainy = onnx.helper.make_tensor_value_info("rainy", onnx.TensorProto.UINT8, [2, 24, 40, 3])
    derained = onnx.helper.make_tensor_value_info("derained", onnx.TensorProto.UINT8, [2, 24, 40, 3])
    onnx.save(
        onnx.helper.make_model(
            onnx.helper.make_graph(
                [onnx.helper.make_node("Identity", ["rainy"], ["derained"])], "two", [rainy], [derained]
            )
        ),
        str(fixed_two),
    )
    with pytest.raises(SystemExit, match="^error: two.onnx takes batches of exactly 2.*--dynamic"):
        main(["infer", str(image), "--checkpoint", str(fixed_two), "--out", str(tmp_path / "o")])
    with pytest.raises(
        SystemExit, match=r"^error: .*model.onnx is an exported ONNX graph; this needs a pipeline checkpoint \(\.pt\)"
    ):
        main(["demo", "--checkpoint", str(graph_24x40), "--size", "24x40", "--out", str(tmp_path / "d")])


@pytest.fixture
def shipped_model(checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shipped model, played by this test's small checkpoint."""
    models = tmp_path / "models"
    models.mkdir()
    shutil.copyfile(checkpoint, models / shipped.SHIPPED_NAME)
    monkeypatch.setattr(shipped, "MODELS_DIR", models)
    return models / shipped.SHIPPED_NAME


def test_infer_bag_and_export_use_the_shipped_model_without_a_checkpoint(
    shipped_model: Path, tmp_path: Path, caplog, capsys
) -> None:
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), np.full((24, 40, 3), 90, np.uint8))
    demo = make_demo_bag(tmp_path / "demo", frames=1, size=(24, 40))
    exported = tmp_path / "e.onnx"
    with caplog.at_level(logging.INFO):
        assert main(["infer", str(image), "--backend", "torch", "--out", str(tmp_path / "out")]) == 0
        assert main(["bag", str(demo), str(tmp_path / "bag_out")]) == 0
        assert main(["export", "--height", "16", "--width", "32", "--out", str(exported)]) == 0
    assert (tmp_path / "out" / "a_labels.png").is_file() and (tmp_path / "bag_out").is_dir() and exported.is_file()
    engines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("engine: ")]
    assert len(engines) == 2 and all(m.endswith(shipped.SHIPPED_NAME) for m in engines)
    out = capsys.readouterr().out
    said = [r.getMessage() for r in caplog.records]
    assert sum("frames processed" in m for m in said) == 1 and "frames processed" not in out  # the bag summary, once
    assert sum(str(exported) in m for m in said) + out.count(str(exported)) == 1  # the export, once


@pytest.mark.parametrize(
    "argv",
    [
        ["infer", "{tmp}/a.png", "--out", "{tmp}/o"],
        ["bag", "{tmp}/in", "{tmp}/out"],
        ["export", "--height", "16", "--width", "16"],
    ],
)
def test_a_missing_shipped_model_is_one_line_saying_what_to_do(argv: list[str], tmp_path: Path, monkeypatch) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), np.full((8, 8, 3), 90, np.uint8))
    monkeypatch.setattr(shipped, "MODELS_DIR", tmp_path / "no_models")
    with pytest.raises(
        SystemExit,
        match=rf"^error: the shipped model .*{shipped.SHIPPED_NAME} is missing .*make weights.*--checkpoint$",
    ):
        main([a.format(tmp=tmp_path) for a in argv])


def test_export_without_tensorrt_says_why(checkpoint: Path, tmp_path: Path) -> None:
    try:
        import tensorrt  # noqa: F401

        pytest.skip("TensorRT is installed here: the refusal path is not exercised")
    except ImportError:
        pass
    with pytest.raises(SystemExit, match="TensorRT"):
        main(
            [
                "export",
                "--checkpoint",
                str(checkpoint),
                "--height",
                "32",
                "--width",
                "32",
                "--out",
                str(tmp_path / "p.onnx"),
                "--build-engine",
            ]
        )


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_infer_writes_four_images_per_input_and_skips_unreadable_files(
    checkpoint: Path, tmp_path: Path, backend: str
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.full((30, 44, 3), 90, np.uint8))
    (folder / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    assert (
        main(
            [
                "infer",
                str(folder),
                "--checkpoint",
                str(checkpoint),
                "--backend",
                backend,
                "--cache-dir",
                str(tmp_path / "cache"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert sorted(p.name for p in out.iterdir()) == ["a_color.png", "a_derained.png", "a_labels.png", "a_overlay.png"]
    assert cv2.imread(str(out / "a_labels.png"), cv2.IMREAD_UNCHANGED).shape == (30, 44)


def test_demo_writes_a_titled_sheet_and_scores_of_fresh_scenes(checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "d"
    assert main(["demo", "--checkpoint", str(checkpoint), "--size", "48x96", "--scenes", "2", "--out", str(out)]) == 0
    assert cv2.imread(str(out / "sheet.png")) is not None
    names = {p.name for p in out.iterdir()}
    for i in range(2):
        assert {
            f"scene{i}_{k}.png" for k in ("rainy", "derained", "clean", "labels_gt", "labels_derained", "labels_rainy")
        } <= names
    scores = json.loads((out / "scores.json").read_text())
    assert set(scores) == {"scene0", "scene1"} and scores["scene0"]["scene_seed"] != scores["scene1"]["scene_seed"]
    assert all(0 < s["psnr_rgb_rainy"] < 100 for s in scores.values())


def test_demo_without_out_does_not_touch_the_main_jobs_folder(
    checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--checkpoint", str(checkpoint), "--size", "32x64", "--scenes", "1", "--seed", "5"]) == 0
    assert (tmp_path / "outputs" / "scene_demo" / "seed5" / "sheet.png").is_file()
    assert not (tmp_path / "outputs" / "demo").exists()


def test_bench_times_each_stage_of_the_one_graph_at_a_size_it_must_pad_and_appends(tmp_path: Path) -> None:
    """30x50 is no multiple of the networks' stride: only the pipeline's own padding makes it run."""
    results = tmp_path / "RESULTS.md"
    for _ in range(2):
        assert (
            main(
                ["bench", "--config", "small", "--size", "30x50", "--runs", "2", "--warmup", "1", "--out", str(results)]
            )
            == 0
        )
    text = results.read_text()
    assert text.count("| setting | stage |") == 2 and text.count("| pipeline |") == 2
    for stage in ("attention", "coarse", "srrn", "deeplab"):
        assert text.count(f"| torch fp32, 30x50, batch 1, small | {stage} |") == 2


def test_bench_times_every_backend_that_runs_and_skips_the_rest(tmp_path: Path, capsys, monkeypatch) -> None:
    from derain_seg_ros.runtime import benchmark

    monkeypatch.setattr(benchmark, "LONG_SWEEP_S", 0.0)  # every sweep counts as long: the estimate is printed
    results = tmp_path / "RESULTS.md"
    assert (
        main(
            [
                "bench",
                "--config",
                "small",
                "--sizes",
                "32x64",
                "--batches",
                "2",
                "--backends",
                "torch",
                "onnxruntime",
                "tensorrt",
                "--runs",
                "2",
                "--warmup",
                "1",
                "--out",
                str(results),
            ]
        )
        == 0
    )
    text = results.read_text()
    assert "| onnxruntime fp32, 32x64, batch 2, small | pipeline (end to end) |" in text
    assert "| torch fp32, 32x64, batch 2, small | srrn |" in text
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("bench: 3 setting(s) on ") and out[0].endswith("1 warm-up + 2 timed calls each")
    assert out[1].startswith("bench: warning: no GPU") or torch.cuda.is_available()  # before anything runs
    assert sum(line.startswith("bench: the first call took") and "this sweep takes about" in line for line in out) == 1
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        assert any(line.startswith("skipped tensorrt fp32, 32x64") for line in out) and "| tensorrt" not in text


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


@pytest.mark.parametrize(
    "argv",
    [
        ["demo", "--checkpoint", "{tmp}/nope.pt", "--out", "{tmp}/o"],
        ["export", "--checkpoint", "{tmp}/nope.pt", "--height", "32", "--width", "32", "--out", "{tmp}/p.onnx"],
        ["bag", "{tmp}/no_bag", "{tmp}/out", "--checkpoint", "{ckpt}"],
        ["synth", "--source", "cityscapes", "--root", "{tmp}/no_cityscapes", "--out", "{tmp}/data", "--count", "2"],
    ],
)
def test_commands_end_with_one_clear_line_on_bad_input(tmp_path: Path, checkpoint: Path, argv: list[str]) -> None:
    with pytest.raises(SystemExit, match=r"^error: .*(not found|cannot open bag|does not exist)"):
        main([a.format(tmp=tmp_path, ckpt=checkpoint) for a in argv])


@pytest.mark.parametrize(
    "argv",
    [["bag", "in", "out", "--size", "128by256"], ["bench", "--size", "12x"], ["bench", "--sizes", "64x128", "0x5"]],
)
def test_a_malformed_size_is_one_line_showing_the_expected_form(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and "Traceback" not in "".join(err)
    assert f"error: argument --{argv[-2].lstrip('-') if argv[0] == 'bag' else 'sizes/--size'}:" in err[-1]
    assert "e.g. 256x512" in err[-1] and repr(argv[-1]) in err[-1]


def test_parse_size_called_directly_is_a_user_error_too() -> None:
    from derain_seg_ros.data.io import parse_size
    from derain_seg_ros.errors import DerainSegError

    with pytest.raises(DerainSegError, match="HEIGHTxWIDTH in pixels, e.g. 256x512; got '128by256'"):
        parse_size("128by256")
    assert parse_size(" 64X128 ") == (64, 128)


@pytest.mark.parametrize("command", ["infer", "export", "bag", "bench"])
def test_help_describes_the_tool_and_shows_defaults(command: str, capsys) -> None:
    import importlib

    with pytest.raises(SystemExit) as stop:
        main([command, "--help"])
    text = capsys.readouterr().out
    first_line = importlib.import_module(f"derain_seg_ros.commands.{command}").__doc__.strip().splitlines()[0]
    assert stop.value.code == 0 and first_line in text
    assert "(default: " in text and "(default: None)" not in text
