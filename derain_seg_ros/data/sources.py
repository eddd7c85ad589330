"""Where synthesis takes its clean scenes from: one small interface, four implementations.

Synthesis asks a source for its length, a scene's name (cheap: a resumed run checks what exists
before anything is read or drawn) and the scene itself (image, and trainIds when the source has
them). Which class serves which ``--source`` is the one dict ``SOURCES`` below.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Protocol, runtime_checkable

from derain_seg_ros.data.synth_spec import SynthSpec
from derain_seg_ros.data.synthcity import NamedScene
from derain_seg_ros.errors import DerainSegError
from derain_seg_ros.rain import seeds


class SourceError(DerainSegError, ValueError):
    """A scene source that cannot be opened: a missing root, an empty folder, an unreadable video."""


@runtime_checkable
class SceneSource(Protocol):
    kind: str  # 'synthcity', 'cityscapes', 'folder', 'video', 'labelled-folder': recorded in the manifest
    has_labels: bool  # False: synthesis writes an all-255 (ignore) label and marks the items
    named_frames: bool  # True: items carry the frame's name; False: items are named by their index only

    def __len__(self) -> int: ...

    def name(self, index: int) -> str:
        """The scene's name, without reading or drawing it."""

    def scene(self, index: int) -> NamedScene:
        """The clean RGB image (uint8 H x W x 3) and its trainIds (uint8 H x W), or None without labels."""


def _synthcity(spec: SynthSpec) -> SceneSource:
    from derain_seg_ros.data.synthcity import SynthCitySource

    sequences = (spec.count + spec.sequence_length - 1) // spec.sequence_length
    return SynthCitySource(sequences, spec.height or 1024, spec.width or 2048, spec.seed, seeds.SCENE)


def _cityscapes(spec: SynthSpec) -> SceneSource:
    from derain_seg_ros.data.cityscapes import CityscapesSource

    return CityscapesSource(_root(spec), spec.split, crop_columns=spec.crop_columns)


def _folder(spec: SynthSpec) -> SceneSource:
    from derain_seg_ros.data.folder import FolderSource

    return FolderSource(_root(spec))


def _camvid(spec: SynthSpec) -> SceneSource:
    from derain_seg_ros.data.labelled_folder import LabelledFolderSource

    splits = ("train", "val") if spec.split == "all" else (spec.split,)
    return LabelledFolderSource(_root(spec), splits)


def _video(spec: SynthSpec) -> SceneSource:
    from derain_seg_ros.data.video import VideoSource

    return VideoSource(_root(spec), spec.video_stride)


SOURCES: dict[str, Callable[[SynthSpec], SceneSource]] = {
    "synthcity": _synthcity,
    "cityscapes": _cityscapes,
    "folder": _folder,
    "video": _video,
    "camvid": _camvid,
}


def _root(spec: SynthSpec) -> str:
    if spec.root is None:
        raise SourceError(f"--source {spec.source} needs --root")
    return spec.root


@lru_cache(maxsize=4)
def open_source(spec: SynthSpec) -> SceneSource:
    """The scene source a spec names; cached, so a worker process scans a folder or a video once, not per item."""
    if spec.source not in SOURCES:
        raise SourceError(f"unknown source {spec.source!r}; choose one of {', '.join(SOURCES)}")
    return SOURCES[spec.source](spec)
