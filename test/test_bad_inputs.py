"""Every bad input gets one line and loses nothing: each command refuses bad arguments
in one line before it touches the disk, trained weights are never trained over, tiny and odd
images are served or skipped alone, Ctrl-C says what was kept, and damaged or killed runs leave
nothing behind that a rerun trips over."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from train_fixtures import FAST, REPO, tiny_dataset

from derain_seg_ros.cli import main as cli_main
from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.runtime.checkpoint import save_checkpoint
from train.evaluate import main as evaluate_main
from train.run import main as run_main

ENTRY_POINTS = {"derain-seg": cli_main, "run.py": run_main, "evaluate.py": evaluate_main}


@pytest.fixture(scope="module")
def small_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    return save_checkpoint(
        tmp_path_factory.mktemp("ckpt") / "small.pt", DerainSegPipeline.from_config(PipelineConfig.small())
    )


@pytest.fixture(scope="module")
def embedded_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped model's networks (random weights): they need 17x17 frames at least."""
    torch.manual_seed(0)
    return save_checkpoint(
        tmp_path_factory.mktemp("ckpt") / "embedded.pt", DerainSegPipeline.from_config(PipelineConfig.embedded())
    )


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_dataset(tmp_path_factory, 8)


def snapshot(root: Path) -> dict[str, tuple[str, bytes | None]]:
    """Every path under ``root`` with its kind and, for files, its bytes."""
    out: dict[str, tuple[str, bytes | None]] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = ("link", os.readlink(path).encode())
        elif path.is_file():
            out[rel] = ("file", path.read_bytes())
        else:
            out[rel] = ("dir" if path.is_dir() else "other", None)
    return out


def call(entry: str, argv: list[str], capsys) -> tuple[int, str]:
    """Run an entry point in-process as a shell would: (exit status, stderr). A traceback escapes as the exception."""
    try:
        code = ENTRY_POINTS[entry](argv)
    except SystemExit as stop:  # argparse, or the CLI's one line
        code = stop.code
    err = capsys.readouterr().err
    if isinstance(code, str):  # SystemExit("error: ..."): the interpreter prints it and exits 1
        err, code = err + code + "\n", 1
    return int(code or 0), err


def bad_files(tmp: Path) -> dict[str, str]:
    """The fixtures bad arguments point at: a plain file, a folder, a FIFO named like an image, a good image."""
    (tmp / "afile").write_text("not a folder")
    (tmp / "adir").mkdir()
    (tmp / "adir" / "keep.txt").write_text("kept")
    os.mkfifo(tmp / "fifo.png")
    cv2.imwrite(str(tmp / "good.png"), np.full((24, 40, 3), 90, np.uint8))
    return {"tmp": str(tmp)}


BAD_ARGUMENTS = [
    # infer
    ("derain-seg", "infer {tmp}/good.png --out {tmp}/o --overlay-alpha 5", "overlay-alpha"),
    ("derain-seg", "infer {tmp}/good.png --out {tmp}/o --overlay-alpha nan", "overlay-alpha"),
    ("derain-seg", "infer {tmp}/good.png --out {tmp}/afile/sub --checkpoint {small}", "afile is a file"),
    ("derain-seg", "infer {tmp}/good.png --out {tmp}/afile --checkpoint {small}", "is a file"),
    ("derain-seg", "infer {tmp}/good.png --out {tmp}/o --checkpoint {tmp}/adir", "is a folder, not a file"),
    ("derain-seg", "infer {tmp}/fifo.png --out {tmp}/o --checkpoint {small}", "not a regular file"),
    ("derain-seg", "infer {tmp}/nothing.png --out {tmp}/o --checkpoint {small}", "no such image"),
    # synth
    ("derain-seg", "synth --out {tmp}/afile --count 2 --size 32x64", "is a file"),
    ("derain-seg", "synth --out {tmp}/afile/sub --count 2 --size 32x64", "afile is a file"),
    ("derain-seg", "synth --out {tmp}/d --count 0", "--count"),
    ("derain-seg", "synth --out {tmp}/d --count 2 --workers 0", "--workers"),
    ("derain-seg", "synth --out {tmp}/d --count 2 --seed -1", "--seed"),
    ("derain-seg", "synth --source folder --root {tmp}/adir --out {tmp}/d --video-stride 0", "--video-stride"),
    # bag
    ("derain-seg", "bag {tmp}/afile {tmp}/b --checkpoint {small}", "not a rosbag2 folder"),
    ("derain-seg", "bag {tmp}/adir {tmp}/afile/b --checkpoint {small}", "afile is a file"),
    ("derain-seg", "bag {tmp}/adir {tmp}/adir --checkpoint {small}", "exists"),
    ("derain-seg", "bag {tmp}/adir {tmp}/b --overlay-alpha 2", "overlay-alpha"),
    ("derain-seg", "bag --make-demo {tmp}/afile", "exists"),
    # tobag
    ("derain-seg", "tobag {tmp}/adir {tmp}/b --rate nan", "--rate"),
    ("derain-seg", "tobag {tmp}/adir {tmp}/b --rate 0", "--rate"),
    ("derain-seg", "tobag {tmp}/adir {tmp}/b --start -5", "--start"),
    ("derain-seg", "tobag {tmp}/adir {tmp}/afile/b", "afile is a file"),
    ("derain-seg", "tobag {tmp}/afile {tmp}/b", "not a folder"),
    # export
    ("derain-seg", "export --checkpoint {embedded} --height 8 --width 8 --out {tmp}/m.onnx", "at least 17x17"),
    ("derain-seg", "export --checkpoint {small} --height 16 --width 16 --out {tmp}/adir", "is a folder"),
    ("derain-seg", "export --checkpoint {small} --height 16 --width 16 --out {tmp}/afile/m.onnx", "afile is a file"),
    ("derain-seg", "export --checkpoint {small} --height 0 --width 16 --out {tmp}/m.onnx", "--height"),
    ("derain-seg", "export --checkpoint {small} --height 16 --width 16 --batch -1 --out {tmp}/m.onnx", "--batch"),
    (
        "derain-seg",
        "export --checkpoint {tmp}/adir --height 16 --width 16 --out {tmp}/m.onnx",
        "is a folder, not a file",
    ),
    # demo
    ("derain-seg", "demo --checkpoint {small} --size 32x32 --time-step 99999 --out {tmp}/d", "--time-step takes"),
    ("derain-seg", "demo --checkpoint {small} --size 32x32 --time-step -1 --out {tmp}/d", "--time-step"),
    ("derain-seg", "demo --checkpoint {small} --size 8x8 --out {tmp}/d", "each side takes"),
    ("derain-seg", "demo --checkpoint {small} --size 32x32 --scenes 0 --out {tmp}/d", "--scenes"),
    ("derain-seg", "demo --checkpoint {small} --size 32x32 --out {tmp}/afile", "is a file"),
    # train/run.py
    (
        "run.py",
        "--stage 0 --config smoke data.root={data} run.out={tmp}/r stage0.epochs=-1",
        "stage0.epochs must be >= 1",
    ),
    ("run.py", "--stage 0 --config smoke data.root={data} run.out={tmp}/r stage0.lr=-1", "stage0.lr must be > 0"),
    ("run.py", "--stage 1 --config smoke data.root={data} run.out={tmp}/r optim.lr=nan", "finite"),
    ("run.py", "--stage 0 --config smoke data.root={data} run.out={tmp}/afile", "is a file"),
    ("run.py", "--stage 0 --config smoke data.root={data} run.out={tmp}/afile/sub", "afile is a file"),
    # train/evaluate.py
    ("evaluate.py", "--checkpoint {small} --data {data} --limit 0", "--limit"),
    ("evaluate.py", "--checkpoint {small} --data {train_only}", "no 'test' items"),
    ("evaluate.py", "--checkpoint {small} --data {data} --out {tmp}/afile", "is a file"),
    ("evaluate.py", "--checkpoint {tmp}/adir --data {data}", "is a folder, not a file"),
]


@pytest.fixture(scope="module")
def train_only(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny set with every item in train: a set with no test split, as a small --count can make."""
    import shutil

    root = tmp_path_factory.mktemp("train_only") / "data"
    shutil.copytree(dataset, root)
    manifest = json.loads((root / "manifest.json").read_text())
    for item in manifest["items"]:
        item["split"] = "train"
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


@pytest.mark.parametrize("entry,argv,said", BAD_ARGUMENTS, ids=[f"{e} {a.split()[0]} {s}" for e, a, s in BAD_ARGUMENTS])
def test_every_command_refuses_bad_arguments_in_one_line_and_changes_nothing(
    entry: str,
    argv: str,
    said: str,
    tmp_path: Path,
    small_ckpt: Path,
    embedded_ckpt: Path,
    dataset: Path,
    train_only: Path,
    capsys,
) -> None:
    names = {
        **bad_files(tmp_path),
        "small": small_ckpt,
        "embedded": embedded_ckpt,
        "data": dataset,
        "train_only": train_only,
    }
    before = snapshot(tmp_path), snapshot(dataset), snapshot(train_only)
    code, err = call(entry, [a.format(**names) for a in argv.split()], capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code != 0 and "Traceback" not in err, err
    assert "error: " in lines[-1] and said in lines[-1], err  # the reason, on the last line, in one line
    assert not any(line.startswith("error") for line in lines[:-1]), err
    assert (snapshot(tmp_path), snapshot(dataset), snapshot(train_only)) == before  # nothing made, changed or removed


def test_a_real_interpreter_prints_one_line_and_exit_codes_for_both_kinds_of_entry_point(tmp_path: Path) -> None:
    """The same, end to end in a shell's view: stderr holds one line, no traceback, non-zero status."""
    (tmp_path / "afile").write_text("x")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    derain = [sys.executable, "-m", "derain_seg_ros.cli", "tobag", str(tmp_path), str(tmp_path / "afile" / "b")]
    train = [sys.executable, str(REPO / "train" / "run.py"), "--stage", "0", "--config", "smoke", "stage0.lr=-1"]
    for argv in (derain, train):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
        assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("error: "), done.stderr


# 1. trained weights are never trained over; log.csv follows the checkpoint


def _train(data: Path, out: Path, *extra: str) -> list[str]:
    return [
        "--stage",
        "0",
        "--config",
        "smoke",
        f"data.root={data}",
        f"run.out={out}",
        *FAST,
        "stage0.epochs=1",
        "stage0.steps_per_epoch=1",
        *extra,
    ]


def test_a_trained_last_pt_is_never_overwritten_without_resume(dataset: Path, tmp_path: Path, capsys) -> None:
    torch.manual_seed(0)
    save_checkpoint(
        tmp_path / "stage0" / "last.pt",
        DerainSegPipeline.from_config(PipelineConfig.small()),
        stage="stage0",
        step=40,
        total_steps=400,
    )
    (tmp_path / "stage0" / "log.csv").write_text("step,epoch,lr,it_per_s,loss_total\n40,0,0.1,1.0,0.5\n")
    before = snapshot(tmp_path)
    code, err = call("run.py", _train(dataset, tmp_path), capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "trained to step 40 of 400" in err and "--resume continues it" in err and "run.out=" in err
    assert snapshot(tmp_path) == before  # weights and log.csv as they were


def test_a_resumed_run_writes_each_step_once_to_log_csv(dataset: Path, tmp_path: Path) -> None:
    assert run_main(_train(dataset, tmp_path, "stage0.epochs=3", "run.max_steps=1")) == 0
    log = tmp_path / "stage0" / "log.csv"
    rows = list(csv.DictReader(log.open()))
    with log.open("a", newline="") as f:  # what a run killed after step 2's row, before its checkpoint, leaves
        csv.DictWriter(f, fieldnames=list(rows[0])).writerow({**rows[-1], "step": "2"})
    assert run_main(_train(dataset, tmp_path, "stage0.epochs=3", "--resume")) == 0
    assert [int(row["step"]) for row in csv.DictReader(log.open())] == [1, 2, 3]


def test_a_fresh_run_does_not_append_to_a_log_without_a_checkpoint(dataset: Path, tmp_path: Path) -> None:
    (tmp_path / "stage0").mkdir()
    (tmp_path / "stage0" / "log.csv").write_text("step,epoch,lr,it_per_s,loss_total\n9,0,0.1,1.0,0.5\n")
    assert run_main(_train(dataset, tmp_path)) == 0
    assert [int(r["step"]) for r in csv.DictReader((tmp_path / "stage0" / "log.csv").open())] == [1]


# 3. tiny images: padded up and cropped back; one bad image never stops a folder


def test_tiny_images_are_served_and_never_stop_a_folder(embedded_ckpt: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shapes = {"one": (1, 1), "four": (4, 4), "odd": (13, 17), "strip": (2, 300), "tall": (300, 2), "good": (40, 56)}
    rng = np.random.default_rng(0)
    for name, shape in shapes.items():
        cv2.imwrite(str(folder / f"{name}.png"), rng.integers(0, 256, (*shape, 3), dtype=np.uint8))
    out = tmp_path / "out"
    assert (
        cli_main(["infer", str(folder), "--checkpoint", str(embedded_ckpt), "--backend", "torch", "--out", str(out)])
        == 0
    )
    for name, shape in shapes.items():
        assert cv2.imread(str(out / f"{name}_labels.png"), cv2.IMREAD_UNCHANGED).shape == shape
        assert cv2.imread(str(out / f"{name}_derained.png")).shape == (*shape, 3)


def test_a_frame_that_fails_in_the_engine_is_skipped_alone(
    small_ckpt: Path, tmp_path: Path, monkeypatch, caplog
) -> None:
    from derain_seg_ros.runtime import torch_engine

    folder = tmp_path / "in"
    folder.mkdir()
    for name, value in (("a", 10), ("b", 99), ("c", 200)):
        cv2.imwrite(str(folder / f"{name}.png"), np.full((24, 40, 3), value, np.uint8))
    real = torch_engine.TorchEngine.infer

    def flaky(self, frames):
        if int(frames[0][0, 0, 0]) == 99:
            raise RuntimeError("CUDA out of memory")
        return real(self, frames)

    monkeypatch.setattr(torch_engine.TorchEngine, "infer", flaky)
    out = tmp_path / "out"
    assert (
        cli_main(["infer", str(folder), "--checkpoint", str(small_ckpt), "--backend", "torch", "--out", str(out)]) == 0
    )
    assert sorted(p.name for p in out.glob("*_labels.png")) == ["a_labels.png", "c_labels.png"]
    assert any("skipped" in r.getMessage() and "b.png" in r.getMessage() for r in caplog.records)


def test_demo_runs_at_the_scene_generators_smallest_size(embedded_ckpt: Path, tmp_path: Path) -> None:
    out = tmp_path / "d"
    assert (
        cli_main(["demo", "--checkpoint", str(embedded_ckpt), "--size", "16x16", "--scenes", "1", "--out", str(out)])
        == 0
    )
    assert cv2.imread(str(out / "scene0_labels_derained.png"), cv2.IMREAD_UNCHANGED).shape == (16, 16)
    json.loads((out / "scores.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))


def test_export_at_the_smallest_size_runs(embedded_ckpt: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnx", reason="onnx is a test extra")
    from derain_seg_ros.runtime.checkpoint import load_pipeline
    from derain_seg_ros.runtime.small_frames import smallest_side

    side = smallest_side(load_pipeline(embedded_ckpt)[0])
    assert side == 17
    assert (
        cli_main(
            [
                "export",
                "--checkpoint",
                str(embedded_ckpt),
                "--height",
                "17",
                "--width",
                "17",
                "--out",
                str(tmp_path / "m.onnx"),
            ]
        )
        == 0
    )


# 6. only regular files are read


def test_a_fifo_named_like_an_image_is_not_read(small_ckpt: Path, tmp_path: Path) -> None:
    """In a subprocess with a timeout: before, infer blocked forever opening it."""
    folder = tmp_path / "in"
    folder.mkdir()
    os.mkfifo(folder / "b.png")
    cv2.imwrite(str(folder / "a.png"), np.full((24, 40, 3), 90, np.uint8))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "derain_seg_ros.cli",
            "infer",
            str(folder),
            "--checkpoint",
            str(small_ckpt),
            "--backend",
            "torch",
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "a_color.png",
        "a_derained.png",
        "a_labels.png",
        "a_overlay.png",
    ]


# 7. misleading outcomes


def test_infer_into_its_input_folder_does_not_read_its_own_results_back(
    small_ckpt: Path, tmp_path: Path, capsys
) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), np.full((24, 40, 3), 90, np.uint8))
    argv = ["infer", str(tmp_path), "--checkpoint", str(small_ckpt), "--backend", "torch", "--out", str(tmp_path)]
    assert cli_main(argv) == 0 and cli_main(argv) == 0
    assert len(list(tmp_path.glob("*.png"))) == 5  # a.png and its four results, nothing of results of results
    assert capsys.readouterr().out.splitlines()[-1].startswith("1 images ->")


def test_a_bag_in_which_every_frame_fails_is_an_error_and_writes_nothing(tmp_path: Path) -> None:
    from derain_seg_ros.bags.demo_drive import make_demo_bag
    from derain_seg_ros.bags.replay import BagError, process_bag

    class Broken:
        name, max_batch = "broken", 1

        def infer(self, frames):
            raise RuntimeError("CUDA error: an illegal memory access")

    demo = make_demo_bag(tmp_path / "demo", frames=1, size=(32, 48))
    with pytest.raises(BagError, match="every one of the 2 camera frames failed.*illegal memory access"):
        process_bag(demo, tmp_path / "out", Broken(), progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]


# 8. leftovers, Ctrl-C


def test_a_killed_bag_runs_staging_folder_is_removed_by_the_rerun(tmp_path: Path) -> None:
    from derain_seg_ros.bags.demo_drive import make_demo_bag
    from derain_seg_ros.bags.replay import OWNER

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    killed, live = tmp_path / ".demo.0badc0de", tmp_path / ".demo.1badc0de"
    for folder, pid in ((killed, dead.pid), (live, os.getpid())):
        (folder / "demo").mkdir(parents=True)
        (folder / OWNER).write_text(str(pid))
    make_demo_bag(tmp_path / "demo", frames=1, size=(32, 48))
    assert not killed.exists() and live.is_dir()  # a live run's staging is not touched


def _raise_interrupt(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.mark.parametrize(
    "command,target,said",
    [
        ("infer", "derain_seg_ros.commands.infer.write_png", "the results written so far are in"),
        ("synth", "derain_seg_ros.data.raindrop_cityscapes.synthesize", "the same command resumes"),
        ("bag", "derain_seg_ros.bags.replay.process_bag", "no bag written"),
    ],
)
def test_ctrl_c_says_interrupted_and_what_was_kept(
    command: str, target: str, said: str, small_ckpt: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    from derain_seg_ros.bags.demo_drive import make_demo_bag

    module, name = target.rsplit(".", 1)
    monkeypatch.setattr(sys.modules.get(module) or __import__(module, fromlist=[name]), name, _raise_interrupt)
    cv2.imwrite(str(tmp_path / "a.png"), np.full((24, 40, 3), 90, np.uint8))
    argv = {
        "infer": ["infer", str(tmp_path / "a.png"), "--checkpoint", str(small_ckpt), "--out", str(tmp_path / "o")],
        "synth": ["synth", "--out", str(tmp_path / "d"), "--count", "2", "--size", "32x64"],
        "bag": [
            "bag",
            str(make_demo_bag(tmp_path / "demo", frames=1, size=(32, 48))),
            str(tmp_path / "b"),
            "--checkpoint",
            str(small_ckpt),
        ],
    }[command]
    code, err = call("derain-seg", argv, capsys)
    assert code == 130 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("interrupted: ") and said in err


def test_ctrl_c_in_training_says_what_was_kept(dataset: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    import train.run

    monkeypatch.setattr(train.run, "run_stage", _raise_interrupt)
    code, err = call("run.py", _train(dataset, tmp_path), capsys)
    assert (
        code == 130
        and err.strip() == f"interrupted: the last checkpoint in {tmp_path} is kept; rerun with --resume to continue"
    )


def _mcap_bag_with_crcs(path: Path, frames: int) -> Path:
    """A bag of ``frames`` 300x400 images (three to an MCAP chunk), each chunk with its CRC, as ``ros2 bag record`` writes."""
    import struct
    from binascii import crc32

    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.rosbag2.storage_mcap import McapReader
    from rosbags.typesys import Stores, get_typestore

    from derain_seg_ros.ros.image_msg import image_fields

    ts = get_typestore(Stores.ROS2_HUMBLE)
    T = ts.types
    with Writer(path, version=8, storage_plugin=StoragePlugin.MCAP) as writer:
        conn = writer.add_connection("/cam/image_raw", "sensor_msgs/msg/Image", typestore=ts)
        for i in range(frames):
            header = T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=i, nanosec=0), frame_id="cam")
            msg = T["sensor_msgs/msg/Image"](header=header, **image_fields(np.full((300, 400, 3), i, np.uint8), "rgb8"))
            writer.write(conn, i * 10**9, ts.serialize_cdr(msg, "sensor_msgs/msg/Image"))
    (file,) = path.glob("*.mcap")
    reader = McapReader(file)
    reader.open()
    chunks = list(reader.chunks)
    reader.close()
    with file.open("r+b") as f:
        for chunk in chunks:
            assert chunk.compression == ""
            f.seek(chunk.chunk_start_offset + 9 + 40)
            data = f.read(chunk.compressed_size)
            f.seek(chunk.chunk_start_offset + 9 + 24)
            f.write(struct.pack("<I", crc32(data)))
    return file


def test_a_damaged_mcap_chunk_is_named_and_the_rest_of_the_bag_processed(tmp_path: Path) -> None:
    from rosbags.rosbag2.storage_mcap import McapReader

    from derain_seg_ros.bags.replay import process_bag
    from derain_seg_ros.runtime.engine import EngineOutput

    class Zeros:
        name, max_batch = "zeros", 1

        def infer(self, frames):
            h, w = frames[0].shape[:2]
            return EngineOutput(np.zeros((1, h, w, 3), np.uint8), np.zeros((1, h, w), np.uint8))

    file = _mcap_bag_with_crcs(tmp_path / "in", frames=7)
    reader = McapReader(file)
    reader.open()
    chunks = list(reader.chunks)
    reader.close()
    middle = chunks[1]
    assert len(chunks) == 3 and middle.channel_count == {1: 3}
    with file.open("r+b") as f:  # one flipped byte inside the second chunk's pixels
        f.seek(middle.chunk_start_offset + 9 + 40 + 5000)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0xFF]))
    summary = process_bag(tmp_path / "in", tmp_path / "out", Zeros(), progress=False)
    assert summary.frames == 4 and summary.messages == 4  # the first and last chunks' frames
    assert len(summary.damaged) == 1
    assert "checksum mismatch" in summary.damaged[0] and "3 on /cam/image_raw" in summary.damaged[0]
    assert f"stamped {3 * 10**9}..{5 * 10**9} ns" in summary.damaged[0]


def test_a_killed_exports_empty_temp_file_is_removed_and_a_live_ones_kept(tmp_path: Path) -> None:
    import time

    from derain_seg_ros.fileio import remove_stale_temps

    killed, live = tmp_path / ".m.onnx.0123abcd.onnx", tmp_path / ".m.onnx.89abcdef.onnx"
    killed.write_bytes(b"")
    live.write_bytes(b"")
    os.utime(killed, (time.time() - 7200,) * 2)
    (tmp_path / "m.onnx.keep").write_bytes(b"x")  # not a temp name
    assert remove_stale_temps(tmp_path / "m.onnx", ".onnx") == [killed]
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "m.onnx.keep"]
