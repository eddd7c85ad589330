"""Independent random streams from one dataset seed, through ``np.random.SeedSequence``.

Every stream is ``SeedSequence([seed, key, STREAM])`` with a fixed length and a non-zero stream
id last: SeedSequence pads its entropy with zeros, so ``[s, k]`` and ``[s, k, 0]`` are the same
stream, and a hand-made ``seed + 1`` makes the rain of dataset seed 0 the scenes of dataset seed 1.
Fixed length and a non-zero last word keep every (seed, key, stream) distinct.
"""

from __future__ import annotations

import numpy as np

# Dataset-level streams, keyed by the scene sequence.
SCENE, RAIN, SPLIT, TIME_STEP = 1, 2, 3, 4
# Renderer-level streams, keyed by the time step (or 0), under an item's rain seed.
DROPS, STREAKS, VEIL, SEQUENCE = 11, 12, 13, 14


def stream(seed: int, key: int, stream_id: int) -> np.random.SeedSequence:
    """The SeedSequence of stream ``stream_id`` for ``key`` (a sequence index, a time step) under ``seed``."""
    if stream_id <= 0:
        raise ValueError(f"stream ids are positive (zero would collide with a shorter entropy), got {stream_id}")
    if seed < 0 or key < 0:
        raise ValueError(f"seeds and keys are non-negative, got seed={seed} key={key}")
    return np.random.SeedSequence([int(seed), int(key), int(stream_id)])


def stream_int(seed: int, key: int, stream_id: int) -> int:
    """One 32-bit integer seed drawn from the stream (what a child renderer takes as its seed)."""
    return int(stream(seed, key, stream_id).generate_state(1)[0])


def stream_rng(seed: int, key: int, stream_id: int) -> np.random.Generator:
    return np.random.default_rng(stream(seed, key, stream_id))
