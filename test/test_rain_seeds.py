"""Seeds through SeedSequence streams: no stream of one dataset seed is a stream of another."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from derain_seg_ros.data.raindrop_cityscapes import _rain_seed
from derain_seg_ros.data.synth_spec import SynthSpec
from derain_seg_ros.data.synthcity import SynthCitySource
from derain_seg_ros.rain import seeds


def test_the_rain_of_one_dataset_seed_is_not_the_scenes_of_the_next() -> None:
    # The first seeding drew rain from seed + 1, so dataset seed 0's rain seeds were seed 1's scene seeds.
    for preset in ("car", "paper", "pane"):
        assert _rain_seed(SynthSpec(seed=0, rain_preset=preset), 3) != SynthCitySource(10, 8, 8, seed=1).item_seed(3)


def test_streams_are_distinct_across_seeds_keys_and_stream_ids() -> None:
    ids = (seeds.SCENE, seeds.RAIN, seeds.SPLIT, seeds.TIME_STEP, seeds.DROPS, seeds.STREAKS, seeds.SEQUENCE)
    drawn = [seeds.stream_int(s, k, i) for s, k, i in itertools.product(range(4), range(4), ids)]
    assert len(set(drawn)) == len(drawn)


def test_a_zero_stream_id_is_refused_because_it_would_alias_a_shorter_entropy() -> None:
    assert np.array_equal(
        np.random.SeedSequence([5, 2]).generate_state(2), np.random.SeedSequence([5, 2, 0]).generate_state(2)
    )
    with pytest.raises(ValueError, match="positive"):
        seeds.stream(5, 2, 0)
