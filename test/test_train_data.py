"""Training sets: made on first use, extra sets joined, dry and faint items served for do-no-harm."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from derain_seg_ros.data.raindrop_cityscapes import SynthSpec, synthesize
from derain_seg_ros.rain.mask import rain_mask
from train.config import ConfigError, load_config
from train.datasets import EpochConcat, RainStrengthMix, fainter, train_dataset


@pytest.fixture(scope="module")
def small_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("set")
    synthesize(SynthSpec(count=12, height=32, width=64, seed=0), root, progress=False)
    return root


def test_missing_dataset_is_made_on_first_use_when_the_preset_says_so(tmp_path: Path) -> None:
    cfg = load_config("smoke", [f"data.root={tmp_path / 'made'}", "data.make_if_missing=true", "data.make_count=6",
                                "data.make_size=[32,64]", "data.crop=[32,64]", "run.progress=false"])
    dataset = train_dataset(cfg)
    assert (tmp_path / "made" / "manifest.json").is_file() and len(dataset) >= 4
    assert dataset[0]["rainy"].shape == (32, 64, 3)


def test_dry_items_are_clean_in_clean_out_with_an_empty_rain_map(small_set: Path) -> None:
    cfg = load_config("smoke", [f"data.root={small_set}", "data.dry_fraction=0.5", "data.crop=[32,64]"])
    dataset = train_dataset(cfg)
    assert isinstance(dataset, RainStrengthMix)
    dataset.set_epoch(0)
    items = [dataset[i] for i in range(len(dataset))]
    dry = [it for it in items if torch.equal(it["rainy"], it["clean"])]
    assert 0 < len(dry) < len(items)
    assert all(int(it["rain_mask"].sum()) == 0 for it in dry)
    assert all(torch.equal(a["rainy"], b["rainy"]) for a, b in zip(items, [dataset[i] for i in range(len(dataset))]))
    dataset.set_epoch(1)
    assert [torch.equal(dataset[i]["rainy"], dataset[i]["clean"]) for i in range(len(dataset))] != \
        [torch.equal(it["rainy"], it["clean"]) for it in items]  # another epoch, another draw


def _mse(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a.double() - b.double()) ** 2).mean())


def test_faint_items_carry_their_own_rain_weaker_with_a_remade_rain_map(small_set: Path) -> None:
    base = ["data.dry_fraction=0.25", "data.crop=[32,64]"]
    plain = train_dataset(load_config("smoke", [f"data.root={small_set}", *base]))
    mixed = train_dataset(load_config("smoke", [f"data.root={small_set}", *base, "data.faint_fraction=0.5",
                                                "data.faint_scale=[0.1,0.3]"]))
    pairs = [(plain[i], mixed[i]) for i in range(len(plain))]
    dry = [torch.equal(p["rainy"], p["clean"]) for p, _ in pairs]
    assert dry == [torch.equal(m["rainy"], m["clean"]) for _, m in pairs]  # the dry draw ignores faint_fraction
    faint = [(p, m) for p, m in pairs if not torch.equal(p["rainy"], m["rainy"])]
    assert 0 < len(faint) < len(pairs)
    for p, m in faint:
        assert torch.equal(p["clean"], m["clean"]) and _mse(p["rainy"], p["clean"]) > 0
        ratio = _mse(m["rainy"], m["clean"]) / _mse(p["rainy"], p["clean"])
        assert 0.1 ** 2 * 0.5 < ratio < 0.3 ** 2 * 1.5  # MSE scales with s**2, s in [0.1, 0.3] (8-bit rounding aside)
        assert np.array_equal(m["rain_mask"].numpy(), rain_mask(m["rainy"].numpy(), m["clean"].numpy()))
    assert all(torch.equal(m["rainy"], mixed[i]["rainy"]) for i, (_, m) in enumerate(pairs))  # seeded


def test_fainter_at_full_strength_is_the_item_and_at_half_quarters_the_error(small_set: Path) -> None:
    cfg = load_config("smoke", [f"data.root={small_set}", "data.crop=[32,64]"])
    item = max((train_dataset(cfg)[i] for i in range(8)), key=lambda it: _mse(it["rainy"], it["clean"]))
    same = fainter(item, 1.0)
    assert torch.equal(same["rainy"], item["rainy"]) and torch.equal(same["rain_mask"], item["rain_mask"])
    half = fainter(item, 0.5)
    assert _mse(half["rainy"], half["clean"]) == pytest.approx(0.25 * _mse(item["rainy"], item["clean"]), rel=0.1)
    assert half["rainy"].dtype == torch.uint8 and int(half["rain_mask"].sum()) <= int(item["rain_mask"].sum())


def test_stage0_learns_from_the_labelled_set_only_and_the_derainers_from_all(small_set: Path) -> None:
    cfg = load_config("smoke", [f"data.root={small_set}", f"data.extra_roots=[{small_set}]", "data.crop=[32,64]"])
    assert isinstance(train_dataset(cfg), EpochConcat) and len(train_dataset(cfg)) == 2 * len(train_dataset(cfg, stage0=True))


@pytest.mark.parametrize(("override", "message"), [
    ("optim.milestones=[30,50]", "fractions of the run"),
    ("stage2.warmup=1.5", "stage2.warmup"),
    ("data.dry_fraction=1", "dry_fraction"),
    ("data.faint_fraction=1", "faint_fraction"),
    ("data.faint_scale=[0,0.5]", "faint_scale"),
    ("data.faint_scale=[0.5,0.1]", "faint_scale"),
    ("data.crop=[64]", "height, width"),
])
def test_out_of_range_settings_are_named(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config("smoke", [override])
