"""The procedural street scenes: all 19 classes, geometry-consistent labels, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from derain_seg_ros.data.synthcity import SynthCitySource, generate_scene
from derain_seg_ros.labels import NUM_CLASSES, TRAIN_ID_BY_NAME


@pytest.fixture(scope="module")
def scenes() -> list:
    return [generate_scene(seed, 128, 256) for seed in range(40)]


def test_every_train_id_appears_across_a_few_dozen_scenes(scenes: list) -> None:
    seen = set().union(*(np.unique(s.label).tolist() for s in scenes))
    assert set(range(NUM_CLASSES)) <= seen


def test_sky_only_above_and_road_only_below_the_horizon(scenes: list) -> None:
    sky, road = TRAIN_ID_BY_NAME["sky"], TRAIN_ID_BY_NAME["road"]
    bottom_centre_is_road = 0
    for s in scenes:
        rows = np.arange(s.label.shape[0])
        sky_rows = rows[(s.label == sky).any(axis=1)]
        road_rows = rows[(s.label == road).any(axis=1)]
        assert sky_rows.max() <= road_rows.min()
        bottom_centre_is_road += s.label[-20, s.label.shape[1] // 2] == road
    assert bottom_centre_is_road >= 0.6 * len(scenes)


def test_same_seed_same_bytes_other_seed_differs() -> None:
    a, b, c = generate_scene(5, 97, 203), generate_scene(5, 97, 203), generate_scene(6, 97, 203)
    assert a.image.shape == (97, 203, 3) and a.image.dtype == np.uint8
    assert a.label.shape == (97, 203) and a.label.dtype == np.uint8
    assert np.array_equal(a.image, b.image) and np.array_equal(a.label, b.label)
    assert not np.array_equal(a.image, c.image)


def test_classes_are_not_separable_by_colour_alone(scenes: list) -> None:
    """A nearest-mean-colour classifier must do badly: colours vary and overlap across classes."""
    pixels = np.concatenate([s.image.reshape(-1, 3) for s in scenes[:20]]).astype(np.float32)
    labels = np.concatenate([s.label.ravel() for s in scenes[:20]])
    keep = labels < NUM_CLASSES
    pixels, labels = pixels[keep], labels[keep]
    classes = np.unique(labels)
    means = np.stack([pixels[labels == k].mean(0) for k in classes])
    assert min(pixels[labels == k].std(0).mean() for k in classes if (labels == k).sum() > 500) > 8
    predicted = classes[np.argmin(((pixels[:, None] - means[None]) ** 2).sum(-1), axis=1)]
    assert (predicted == labels).mean() < 0.8


def test_source_items_are_order_independent() -> None:
    source = SynthCitySource(5, 64, 96, seed=3)
    last = source[4]
    again = SynthCitySource(5, 64, 96, seed=3)[4]
    assert last.name == "synthcity_000004" and np.array_equal(last.image, again.image)
    assert len(source) == 5
    with pytest.raises(IndexError):
        source[5]
