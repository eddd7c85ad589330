"""The legacy preset reproduces the first renderer's datasets: same images, same splits, same time steps.

The expected digests were taken from the code before the camera-model renderer was added (sha256
of the decoded arrays' bytes, first 16 hex digits), so PNG encoder versions do not matter. mask/
is not pinned: it now holds M_gt (rain/mask.py) for every preset, by decision.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from derain_seg_ros.data.io import read_gray, read_rgb
from derain_seg_ros.data.raindrop_cityscapes import SynthSpec, load_manifest, synthesize
from derain_seg_ros.data.synthcity import generate_scene
from derain_seg_ros.rain.renderers import make_renderer

SINGLE = {
    "synthcity_000000": ("2d268bef90a988d2", "27a4880ee2d2119e", "1218683604f69506", 7, "test"),
    "synthcity_000001": ("bc14b3a11bb3e233", "61a5b84fb81990de", "d078a7324dfdfafc", 5, "train"),
    "synthcity_000002": ("caced7fbdeb0daf7", "f70addb85f43c580", "8da3769abc2f94da", 9, "train"),
    "synthcity_000003": ("4c83b07e232d3db4", "54c3a0e5f604323d", "f1e64b0ed7509753", 2, "train"),
}
SEQUENCE = {
    "synthcity_000000": ("61ac2b874c2482c3", "34f176c7b71e2e4b", "eedc42b0b1b33b2f", 1, "test"),
    "synthcity_000001": ("cca1cc35c0c2cd59", "34f176c7b71e2e4b", "eedc42b0b1b33b2f", 6, "test"),
    "synthcity_000002": ("725020f509e7bbe0", "34f176c7b71e2e4b", "eedc42b0b1b33b2f", 11, "test"),
    "synthcity_000003": ("2b03c932901d2704", "3c4a0e21b5fa995e", "c976248058e25ae8", 1, "train"),
    "synthcity_000004": ("1b5ba2895b16bc9f", "3c4a0e21b5fa995e", "c976248058e25ae8", 6, "train"),
    "synthcity_000005": ("98d2641956f439cc", "3c4a0e21b5fa995e", "c976248058e25ae8", 11, "train"),
}
CITYSCAPES = {
    "aachen_000000_000019_000000": ("251de48e0b2fe519", "251de48e0b2fe519", "c34162a153d048e3"),
    "aachen_000000_000019_000002": ("85bd3bd2896e6de4", "251de48e0b2fe519", "c34162a153d048e3"),
    "frankfurt_000000_000019_000001": ("7cbbaa94b283404e", "251de48e0b2fe519", "c34162a153d048e3"),
}
CITYSCAPES_RESIZED = {
    "aachen_000000_000019_000000": ("4412f1d2c30a0604", "4412f1d2c30a0604", "4f6d20d14e7facb8"),
    "frankfurt_000000_000019_000001": ("f9a68d1ed9b94842", "4412f1d2c30a0604", "4f6d20d14e7facb8"),
}
RENDER_RAINY = {0: "0788cb4b5c39def7", 2: "38ea200b64b2eef3", 4: "02ebb8d9833ac4aa", 11: "bf6b0698f90c4a72"}


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


def _digests(root: Path) -> dict[str, tuple]:
    manifest = load_manifest(root)
    return {it["name"]: (_digest(read_rgb(root / it["files"]["rainy"])), _digest(read_rgb(root / it["files"]["clean"])),
                         _digest(read_gray(root / it["files"]["label"])), it["time_step"], it["split"])
            for it in manifest["items"]}


@pytest.mark.parametrize("spec, expected", [
    (SynthSpec(count=4, height=40, width=72, seed=1, rain_preset="legacy"), SINGLE),
    (SynthSpec(count=6, height=40, width=72, seed=2, sequence_length=3, rain_preset="legacy"), SEQUENCE),
], ids=["single", "sequence"])
def test_legacy_preset_regenerates_the_first_renderers_synthcity_sets(tmp_path: Path, spec: SynthSpec, expected: dict) -> None:
    synthesize(spec, tmp_path, progress=False)
    assert _digests(tmp_path) == expected


def test_legacy_preset_regenerates_the_first_renderers_cityscapes_sets(tmp_path: Path) -> None:
    from test_dataset_readers import make_cityscapes

    make_cityscapes(tmp_path / "cs")
    synthesize(SynthSpec("cityscapes", str(tmp_path / "cs"), "all", 3, None, None, 0, 1, True, rain_preset="legacy"),
               tmp_path / "native", progress=False)
    synthesize(SynthSpec("cityscapes", str(tmp_path / "cs"), "all", 2, 10, 16, 3, rain_preset="legacy"), tmp_path / "resized", progress=False)
    assert {k: v[:3] for k, v in _digests(tmp_path / "native").items()} == CITYSCAPES
    assert {k: v[:3] for k, v in _digests(tmp_path / "resized").items()} == CITYSCAPES_RESIZED


def test_legacy_renderer_frames_are_the_first_renderers_bytes() -> None:
    clean = generate_scene(3, 64, 128).image
    renderer = make_renderer("legacy")
    assert {t: _digest(renderer.render(clean, 5, t).rainy) for t in RENDER_RAINY} == RENDER_RAINY
