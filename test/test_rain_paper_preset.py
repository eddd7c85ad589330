"""The paper preset (first named ``legacy``) renders the paper's Raindrop-Cityscapes kind as it always has.

The expected digests were taken from the first renderer's code (sha256 of the decoded arrays' bytes, first 16 hex
digits). Datasets made with it draw their seeds from the same streams as every preset (rain/seeds.py).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from derain_seg_ros.data.synthcity import generate_scene
from derain_seg_ros.rain.renderers import make_renderer

RENDER_RAINY = {0: "0788cb4b5c39def7", 2: "38ea200b64b2eef3", 4: "02ebb8d9833ac4aa", 11: "bf6b0698f90c4a72"}


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


@pytest.mark.parametrize("name", ["paper", "legacy"])
def test_paper_renderer_frames_are_the_first_renderers_bytes(name: str) -> None:
    clean = generate_scene(3, 64, 128).image
    renderer = make_renderer(name)
    assert {t: _digest(renderer.render(clean, 5, t).rainy) for t in RENDER_RAINY} == RENDER_RAINY
