"""What a synthesised dataset is made of; recorded whole in its manifest, so a dataset documents itself."""

from __future__ import annotations

from dataclasses import dataclass

PAPER_TOTAL, PAPER_TRAIN = 3479, 3000


@dataclass(frozen=True)
class SynthSpec:
    source: str = "synthcity"  # 'synthcity', 'cityscapes', 'folder' (any images) or 'video'
    root: str | None = None  # Cityscapes root, image folder, or a video file / folder of videos
    split: str = "train"  # Cityscapes split to draw scenes from
    count: int = PAPER_TOTAL  # 0 with folder/video: one item per frame
    height: int | None = 1024  # None: the source's own size
    width: int | None = 2048
    seed: int = 0
    sequence_length: int = 1
    crop_columns: bool = False  # Cityscapes: the paper's columns 64:1984 before any resize
    video_stride: int = 1  # video: every n-th frame
    rain_preset: str = "car"  # 'car' (camera-model renderer), 'paper' (= 'legacy': streaks and sharp drops) or 'pane'
    focus: str = "far"  # car preset: 'far' (a car's camera: the glass defocused) or 'glass'
    camera: str = "car"  # car preset: a camera preset name or 'hfov=<deg>' or 'k=fx,fy,cx,cy@WxH'
