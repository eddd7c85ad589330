"""Frames of a video file (or of every video in a folder) through OpenCV: a fleet's drives as clean scenes.

Frames are decoded forward only (grab to the wanted frame, then retrieve): seeking by
CAP_PROP_POS_FRAMES lands on the nearest key frame with some codecs, and a dataset must get the
same frame for the same index on every machine. Synthesis hands each worker contiguous runs of
items, so decoding stays one pass per worker. The frame count comes from the container; a video
that holds fewer readable frames than it claims stops the run with a clear error (resumable).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2

from derain_seg_ros.data.synthcity import NamedScene
from derain_seg_ros.errors import DerainSegError

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v")


def _frame_count(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise DerainSegError(f"cannot open video {path} (not a video, or no decoder for it in OpenCV)")
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        if count <= 0:  # a stream without a frame count: count by decoding once
            while capture.grab():
                count += 1
        return count
    finally:
        capture.release()


class VideoSource:
    kind = "video"
    has_labels = False
    named_frames = True

    def __init__(self, root: str | os.PathLike, stride: int = 1) -> None:
        root = Path(root)
        if stride < 1:
            raise DerainSegError(f"the video frame stride must be at least 1, got {stride}")
        if root.is_dir():
            videos = sorted(p for p in root.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
            if not videos:
                raise DerainSegError(f"no {'/'.join(VIDEO_SUFFIXES)} videos under {root}")
            stems = ["__".join(p.relative_to(root).with_suffix("").parts) for p in videos]
        elif root.is_file():
            videos, stems = [root], [root.stem]
        else:
            raise DerainSegError(f"video not found: {root}")
        self.stride = stride
        self.items: list[tuple[int, int]] = []  # (video, frame) per item
        for k, path in enumerate(videos):
            self.items += [(k, f) for f in range(0, _frame_count(path), stride)]
        if not self.items:
            raise DerainSegError(f"no frames in {root}")
        self.videos, self.stems = videos, stems
        self._capture: cv2.VideoCapture | None = None
        self._open: int | None = None
        self._next_frame = 0

    def __len__(self) -> int:
        return len(self.items)

    def name(self, index: int) -> str:
        video, frame = self.items[index]
        return f"{self.stems[video]}_{frame:06d}"

    def scene(self, index: int) -> NamedScene:
        video, frame = self.items[index]
        if self._capture is None or self._open != video or frame < self._next_frame:
            if self._capture is not None:
                self._capture.release()
            self._capture, self._open, self._next_frame = cv2.VideoCapture(str(self.videos[video])), video, 0
        while self._next_frame < frame:
            if not self._capture.grab():
                break
            self._next_frame += 1
        ok, bgr = self._capture.read() if self._next_frame == frame else (False, None)
        if not ok or bgr is None:
            self._capture.release()
            self._capture = None
            raise DerainSegError(
                f"{self.videos[video]}: frame {frame} cannot be decoded (the file claims more frames than it holds)"
            )
        self._next_frame = frame + 1
        return NamedScene(self.name(index), cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), None)

    def __getstate__(self) -> dict:
        """A capture does not pickle: a copy sent to another process opens its own."""
        return {**self.__dict__, "_capture": None, "_open": None, "_next_frame": 0}
