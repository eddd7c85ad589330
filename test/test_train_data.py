"""Training sets: made on first use, extra sets joined, dry items served for do-no-harm."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from derain_seg_ros.data.raindrop_cityscapes import SynthSpec, synthesize
from train.config import ConfigError, load_config
from train.datasets import DryMix, EpochConcat, train_dataset


@pytest.fixture(scope="module")
def small_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("set")
    synthesize(SynthSpec(count=12, height=32, width=64, seed=0), root, progress=False)
    return root


def test_missing_dataset_is_made_on_first_use_when_the_preset_says_so(tmp_path: Path) -> None:
    cfg = load_config(
        "smoke",
        [
            f"data.root={tmp_path / 'made'}",
            "data.make_if_missing=true",
            "data.make_count=6",
            "data.make_size=[32,64]",
            "data.crop=[32,64]",
            "run.progress=false",
        ],
    )
    dataset = train_dataset(cfg)
    assert (tmp_path / "made" / "manifest.json").is_file() and len(dataset) >= 4
    assert dataset[0]["rainy"].shape == (32, 64, 3)


def test_dry_items_are_clean_in_clean_out_with_an_empty_rain_map(small_set: Path) -> None:
    cfg = load_config("smoke", [f"data.root={small_set}", "data.dry_fraction=0.5", "data.crop=[32,64]"])
    dataset = train_dataset(cfg)
    assert isinstance(dataset, DryMix)
    dataset.set_epoch(0)
    items = [dataset[i] for i in range(len(dataset))]
    dry = [it for it in items if torch.equal(it["rainy"], it["clean"])]
    assert 0 < len(dry) < len(items)
    assert all(int(it["rain_mask"].sum()) == 0 for it in dry)
    assert all(torch.equal(a["rainy"], b["rainy"]) for a, b in zip(items, [dataset[i] for i in range(len(dataset))]))
    dataset.set_epoch(1)
    assert [torch.equal(dataset[i]["rainy"], dataset[i]["clean"]) for i in range(len(dataset))] != [
        torch.equal(it["rainy"], it["clean"]) for it in items
    ]  # another epoch, another draw


def test_stage0_learns_from_the_labelled_set_only_and_the_derainers_from_all(small_set: Path) -> None:
    cfg = load_config("smoke", [f"data.root={small_set}", f"data.extra_roots=[{small_set}]", "data.crop=[32,64]"])
    assert isinstance(train_dataset(cfg), EpochConcat) and len(train_dataset(cfg)) == 2 * len(
        train_dataset(cfg, stage0=True)
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optim.milestones=[30,50]", "fractions of the run"),
        ("stage2.warmup=1.5", "stage2.warmup"),
        ("data.dry_fraction=1", "dry_fraction"),
        ("data.crop=[64]", "height, width"),
    ],
)
def test_out_of_range_settings_are_named(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config("smoke", [override])
