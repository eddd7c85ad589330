"""The synthesised set on disk: split sizes, resumability, the torch Dataset, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from derain_seg_ros.cli import main
from derain_seg_ros.data.raindrop_cityscapes import (
    ManifestError,
    SynthSpec,
    assign_splits,
    load_manifest,
    split_counts,
    synthesize,
)
from derain_seg_ros.data.torch_dataset import RaindropCityscapesDataset, _random_crop

SPEC = SynthSpec(count=6, height=32, width=64, seed=1)


def test_split_sizes_follow_the_paper() -> None:
    assert split_counts(3479) == (3000, 479)
    assert split_counts(20) == (17, 3)
    splits = assign_splits(20, seed=0)
    assert splits.count("train") == 17 and splits.count("test") == 3
    grouped = assign_splits(20, seed=0, sequence_length=4)
    assert all(len(set(grouped[i : i + 4])) == 1 for i in range(0, 20, 4))  # sequences never straddle


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_killed_and_resumed_run_equals_an_uninterrupted_one(tmp_path: Path) -> None:
    synthesize(SPEC, tmp_path / "whole", workers=1, progress=False)
    partial = tmp_path / "resumed"
    synthesize(SynthSpec(count=6, height=32, width=64, seed=1), partial, workers=1, progress=False)
    # Simulate a kill: the manifest was never written, one image half-written, one item never done.
    (partial / "manifest.json").unlink()
    rainy = sorted((partial / "rainy").glob("*.png"))
    rainy[1].write_bytes(rainy[1].read_bytes()[:50])
    for folder in ("rainy", "clean", "mask", "label"):
        (partial / folder / rainy[4].name).unlink()
    (partial / "items" / rainy[4].with_suffix(".json").name).unlink()
    synthesize(SPEC, partial, workers=2, progress=False)
    assert _tree(partial) == _tree(tmp_path / "whole")


def test_manifest_records_seeds_sequences_and_rain(tmp_path: Path) -> None:
    synthesize(SynthSpec(count=6, height=32, width=64, seed=2, sequence_length=3), tmp_path, progress=False)
    manifest = load_manifest(tmp_path)
    assert manifest["splits"]["train"] + manifest["splits"]["test"] == 6
    steps = [it["time_step"] for it in manifest["items"][:3]]
    assert steps == sorted(steps) and len(set(steps)) == 3
    assert {it["sequence"] for it in manifest["items"]} == {0, 1}
    assert all("drops" in it["rain"] for it in manifest["items"])


def test_missing_or_corrupt_manifest_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="derain-seg synth"):
        load_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ManifestError, match="not valid JSON"):
        RaindropCityscapesDataset(tmp_path)


def test_random_crop_and_flip_keep_all_maps_aligned() -> None:
    h, w = 20, 30
    coords = (np.arange(h)[:, None] * w + np.arange(w)[None]).astype(np.int64)
    stack = [
        np.stack([coords % 256] * 3, -1),
        np.stack([coords % 256] * 3, -1),
        (coords % 256)[..., None],
        (coords % 256)[..., None],
    ]
    crops = _random_crop(stack, (8, 12), np.random.default_rng(0))
    assert all(np.array_equal(c[..., 0], crops[0][..., 0]) for c in crops)
    padded = _random_crop(stack, (25, 30), np.random.default_rng(0))
    assert padded[3].shape[:2] == (25, 30) and (padded[3][20:] == 255).all()


def test_dataset_serves_aligned_uint8_items_and_halves(tmp_path: Path) -> None:
    synthesize(SPEC, tmp_path, progress=False)
    train = RaindropCityscapesDataset(tmp_path, "train", crop=(16, 24), flip=True, seed=3)
    item = train[0]
    assert item["rainy"].shape == (16, 24, 3) and item["rainy"].dtype == torch.uint8
    assert item["rain_mask"].shape == (16, 24) and item["label"].dtype == torch.int64
    again = RaindropCityscapesDataset(tmp_path, "train", crop=(16, 24), flip=True, seed=3)[0]
    assert torch.equal(item["clean"], again["clean"])  # seeded: same epoch, same crop
    test = RaindropCityscapesDataset(tmp_path, "test", halves=True)
    left, right = test[0], test[1]
    assert left["name"].endswith("_L") and right["name"].endswith("_R")
    full = RaindropCityscapesDataset(tmp_path, "test")[0]
    assert torch.equal(torch.cat([left["clean"], right["clean"]], dim=1), full["clean"])


def test_synth_cli_end_to_end(tmp_path: Path) -> None:
    assert main(["synth", "--out", str(tmp_path / "ds"), "--count", "4", "--size", "24x40", "--seed", "5"]) == 0
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert len(manifest["items"]) == 4 and manifest["spec"]["height"] == 24
    assert main(["synth", "--preview", "--out", str(tmp_path / "p.png"), "--size", "64x128"]) == 0
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_a_resumed_run_renders_only_what_is_missing(tmp_path: Path, monkeypatch) -> None:
    from derain_seg_ros.data.synthcity import SynthCitySource

    synthesize(SPEC, tmp_path, progress=False)
    (tmp_path / "items" / "synthcity_000002.json").unlink()
    rendered: list[int] = []
    real_scene = SynthCitySource.scene
    monkeypatch.setattr(SynthCitySource, "scene", lambda self, index: rendered.append(index) or real_scene(self, index))
    synthesize(SPEC, tmp_path, progress=False)
    assert rendered == [2]


def test_synth_from_a_cityscapes_tree_with_the_paper_crop(tmp_path: Path) -> None:
    from test_dataset_readers import make_cityscapes

    make_cityscapes(tmp_path / "cs")  # 12 x 18 frames: the crop keeps round(64*18/2048)=1 .. round(1984*18/2048)=17
    assert (
        main(
            [
                "synth",
                "--source",
                "cityscapes",
                "--root",
                str(tmp_path / "cs"),
                "--split",
                "all",
                "--crop-columns",
                "--out",
                str(tmp_path / "data"),
                "--count",
                "3",
            ]
        )
        == 0
    )
    manifest = load_manifest(tmp_path / "data")
    names = [it["name"] for it in manifest["items"]]
    assert names == ["aachen_000000_000019_000000", "aachen_000000_000019_000002", "frankfurt_000000_000019_000001"]
    item = RaindropCityscapesDataset(tmp_path / "data", "all")[0]
    assert item["clean"].shape[:2] == (12, 16) and manifest["spec"]["crop_columns"] is True
