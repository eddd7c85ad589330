"""Scene sources for synthesis: one interface; folders and videos of unlabelled frames; the manifest they make."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from derain_seg_ros.cli import main
from derain_seg_ros.data import synthcity
from derain_seg_ros.data.folder import FolderSource
from derain_seg_ros.data.raindrop_cityscapes import ManifestError, SynthSpec, load_manifest, synthesize
from derain_seg_ros.data.sources import SceneSource, SourceError, open_source
from derain_seg_ros.data.torch_dataset import RaindropCityscapesDataset
from derain_seg_ros.data.video import VideoSource
from derain_seg_ros.errors import DerainSegError


def _frame(k: int, h: int = 24, w: int = 40) -> np.ndarray:
    """RGB frame whose level encodes k, with a gradient so rain has something to refract."""
    image = np.zeros((h, w, 3), np.uint8)
    image[..., 0] = 20 + 10 * k
    image[..., 1] = np.linspace(0, 200, w, dtype=np.uint8)[None]
    image[..., 2] = np.linspace(200, 0, h, dtype=np.uint8)[:, None]
    return image


def make_folder(root: Path) -> None:
    """Nested frames, png and jpg, one clash of names across suffixes, and a file that is not an image."""
    (root / "drive_a").mkdir(parents=True)
    (root / "drive_b" / "cam").mkdir(parents=True)
    for path, k in (
        (root / "drive_a" / "0001.png", 0),
        (root / "drive_a" / "0001.jpg", 1),
        (root / "drive_b" / "cam" / "x.JPEG", 2),
    ):
        assert cv2.imwrite(str(path), cv2.cvtColor(_frame(k), cv2.COLOR_RGB2BGR))
    (root / "notes.txt").write_text("not an image")


def make_video(path: Path, frames: int = 7) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (40, 24))
    assert writer.isOpened()
    for k in range(frames):
        writer.write(cv2.cvtColor(_frame(k), cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def test_every_source_speaks_the_one_interface(tmp_path: Path) -> None:
    from test_dataset_readers import make_cityscapes

    make_cityscapes(tmp_path / "cs")
    make_folder(tmp_path / "frames")
    make_video(tmp_path / "drive.avi")
    specs = [
        SynthSpec(count=3, height=16, width=24),
        SynthSpec("cityscapes", str(tmp_path / "cs"), "all"),
        SynthSpec("folder", str(tmp_path / "frames")),
        SynthSpec("video", str(tmp_path / "drive.avi")),
    ]
    for spec in specs:
        source = open_source(spec)
        assert isinstance(source, SceneSource) and source.kind == spec.source
        scene = source.scene(len(source) - 1)
        assert scene.name == source.name(len(source) - 1) and scene.image.dtype == np.uint8
        assert (scene.label is not None) == source.has_labels


def test_names_are_cheap_nothing_is_read_or_drawn(tmp_path: Path, monkeypatch) -> None:
    make_folder(tmp_path / "frames")
    source = FolderSource(tmp_path / "frames")
    for path in source.paths:
        path.unlink()
    assert source.name(2) == "drive_b__cam__x"  # the file is gone: the name never needed it
    with pytest.raises(DerainSegError, match="cannot read"):
        source.scene(2)
    monkeypatch.setattr(synthcity, "generate_scene", lambda *a: pytest.fail("drew a scene for its name"))
    assert synthcity.SynthCitySource(5, 16, 16).name(4) == "synthcity_000004"


def test_folder_source_finds_images_recursively_and_keeps_clashing_names_apart(tmp_path: Path) -> None:
    make_folder(tmp_path / "frames")
    source = FolderSource(tmp_path / "frames")
    assert [source.name(i) for i in range(len(source))] == ["drive_a__0001_jpg", "drive_a__0001_png", "drive_b__cam__x"]
    assert source.scene(1).image[0, 0, 0] == 20  # RGB, frame 0 (the png)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DerainSegError, match="no .png"):
        FolderSource(tmp_path / "empty")


def test_video_source_decodes_every_nth_frame_in_order(tmp_path: Path) -> None:
    video = make_video(tmp_path / "drive.avi", frames=7)
    source = VideoSource(video, stride=3)
    assert len(source) == 3 and [source.name(i) for i in range(3)] == ["drive_000000", "drive_000003", "drive_000006"]
    levels = [int(np.median(source.scene(i).image[..., 0])) for i in (2, 0, 1)]  # backwards too: the source reopens
    assert levels == pytest.approx([80, 20, 50], abs=4)  # 20 + 10 k through MJPEG
    copy = VideoSource(video, stride=3)
    assert np.array_equal(copy.scene(1).image, source.scene(1).image)
    (tmp_path / "junk.mp4").write_text("not a video")
    with pytest.raises(DerainSegError, match="cannot open video"):
        VideoSource(tmp_path / "junk.mp4")


def test_unlabelled_frames_make_a_dataset_the_torch_dataset_loads(tmp_path: Path) -> None:
    make_folder(tmp_path / "frames")
    synthesize(
        SynthSpec("folder", str(tmp_path / "frames"), count=0, height=None, width=None, seed=1),
        tmp_path / "data",
        progress=False,
    )
    manifest = load_manifest(tmp_path / "data")
    assert manifest["spec"]["count"] == 3 and manifest["labels"] is False
    assert all(it["labels"] is False for it in manifest["items"])
    assert [it["scene"] for it in manifest["items"]] == ["drive_a__0001_jpg", "drive_a__0001_png", "drive_b__cam__x"]
    item = RaindropCityscapesDataset(tmp_path / "data", "all")[0]
    assert item["rainy"].shape == (24, 40, 3) and torch.all(item["label"] == 255)


def test_synth_cli_from_a_video_with_a_stride(tmp_path: Path) -> None:
    make_video(tmp_path / "drive.avi", frames=6)
    assert (
        main(
            [
                "synth",
                "--source",
                "video",
                "--root",
                str(tmp_path / "drive.avi"),
                "--video-stride",
                "2",
                "--size",
                "16x32",
                "--out",
                str(tmp_path / "data"),
                "--sequence-length",
                "2",
            ]
        )
        == 0
    )
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_text())
    assert len(manifest["items"]) == 6 and manifest["spec"]["video_stride"] == 2  # 3 frames x 2 steps each
    assert {it["scene"] for it in manifest["items"]} == {"drive_000000", "drive_000002", "drive_000004"}


def test_a_missing_root_or_a_bad_size_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="needs --root"):
        main(["synth", "--source", "folder", "--out", str(tmp_path / "d")])
    with pytest.raises(SystemExit, match="256x512"):
        main(["synth", "--size", "128by256", "--out", str(tmp_path / "d")])
    with pytest.raises(SystemExit, match="not found"):
        main(["synth", "--source", "video", "--root", str(tmp_path / "none.mp4"), "--out", str(tmp_path / "d")])
    with pytest.raises(SourceError, match="needs --root"):
        open_source(SynthSpec("folder"))


def test_a_manifest_of_another_version_is_refused_with_the_versions_read(tmp_path: Path) -> None:
    synthesize(SynthSpec(count=2, height=16, width=32, seed=0), tmp_path, progress=False)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    for version in (1, 99):  # 1: the first renderer's sets, whose mask/ was not M_gt
        manifest["version"] = version
        (tmp_path / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(ManifestError, match=f"version {version}.*reads \\(2,\\)"):
            load_manifest(tmp_path)


def test_a_rerun_with_another_preset_redoes_the_items(tmp_path: Path) -> None:
    synthesize(SynthSpec(count=2, height=16, width=32, seed=0, rain_preset="paper"), tmp_path, progress=False)
    paper = (tmp_path / "rainy" / "synthcity_000000.png").read_bytes()
    synthesize(SynthSpec(count=2, height=16, width=32, seed=0), tmp_path, progress=False)
    assert (tmp_path / "rainy" / "synthcity_000000.png").read_bytes() != paper
    assert load_manifest(tmp_path)["spec"]["rain_preset"] == "car"
