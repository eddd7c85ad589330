"""SynthCity: procedural driving scenes with exact per-pixel Cityscapes trainIds.

There is no Cityscapes on a fresh machine, so this is the embedded default data source. A pinhole
camera at car height looks along a street; everything stands on the ground plane and is drawn far
to near (painter's algorithm), so occlusion makes the labels exact. Colours vary per object and
overlap across classes (grey road, grey buildings, grey cars), and lighting and noise come last,
so a segmenter cannot get away with a colour lookup.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import cv2
import numpy as np

from derain_seg_ros.labels import IGNORE_ID, TRAIN_ID_BY_NAME
from derain_seg_ros.rain.seeds import SCENE, stream_int

T = TRAIN_ID_BY_NAME


class Scene(NamedTuple):
    image: np.ndarray  # uint8 H x W x 3 RGB
    label: np.ndarray  # uint8 H x W trainIds


class NamedScene(NamedTuple):
    name: str
    image: np.ndarray
    label: np.ndarray | None


class Canvas:
    """Image and label drawn together, so a pixel's colour and its class never disagree."""

    def __init__(self, height: int, width: int, rng: np.random.Generator) -> None:
        self.h, self.w, self.rng = height, width, rng
        self.image = np.zeros((height, width, 3), np.float32)
        self.label = np.full((height, width), IGNORE_ID, np.uint8)
        self.f = width * rng.uniform(0.55, 0.75)  # focal length in px (Cityscapes: about 0.55 W)
        self.cx = width * rng.uniform(0.45, 0.55)
        self.horizon = height * rng.uniform(0.38, 0.5)
        self.cam_height = rng.uniform(1.3, 1.6)

    def project(self, x: float, y: float, depth: float) -> tuple[float, float]:
        """World (lateral x, height y above ground, depth) in metres -> pixel (u, v)."""
        return self.cx + self.f * x / depth, self.horizon + self.f * (self.cam_height - y) / depth

    def poly(self, points: Sequence[tuple[float, float]], train_id: int, colour: Sequence[float]) -> None:
        pts = np.round(np.asarray(points, np.float64) * 16).astype(np.int32)[None]  # 4 fractional bits
        cv2.fillPoly(self.label, pts, int(train_id), lineType=cv2.LINE_8, shift=4)
        cv2.fillPoly(self.image, pts, tuple(float(c) for c in colour), lineType=cv2.LINE_8, shift=4)

    def box(
        self, x0: float, x1: float, y0: float, y1: float, depth: float, train_id: int, colour: Sequence[float]
    ) -> None:
        """An upright rectangle facing the camera at ``depth``."""
        (u0, v0), (u1, v1) = self.project(x0, y0, depth), self.project(x1, y1, depth)
        self.poly([(u0, v0), (u1, v0), (u1, v1), (u0, v1)], train_id, colour)

    def ellipse(
        self, x: float, y: float, rx: float, ry: float, depth: float, train_id: int, colour: Sequence[float]
    ) -> None:
        u, v = self.project(x, y, depth)
        axes = (max(1, int(round(self.f * rx / depth))), max(1, int(round(self.f * ry / depth))))
        centre = (int(round(u)), int(round(v)))
        cv2.ellipse(self.label, centre, axes, 0, 0, 360, int(train_id), -1, lineType=cv2.LINE_8)
        cv2.ellipse(self.image, centre, axes, 0, 0, 360, tuple(float(c) for c in colour), -1, lineType=cv2.LINE_8)

    def facade(
        self, x: float, d0: float, d1: float, height: float, train_id: int, colour: Sequence[float], y0: float = 0.0
    ) -> None:
        """A vertical plane parallel to the street (building front, wall, fence) from depth d0 to d1."""
        self.poly(
            [
                self.project(x, y0, d0),
                self.project(x, height, d0),
                self.project(x, height, d1),
                self.project(x, y0, d1),
            ],
            train_id,
            colour,
        )

    def jitter(self, base: Sequence[float], spread: float = 18.0) -> np.ndarray:
        return np.clip(np.asarray(base, np.float32) + self.rng.normal(0, spread, 3), 0, 255)


def generate_scene(seed: int, height: int, width: int) -> Scene:
    """One street scene; the same seed gives the same bytes at a given size."""
    if height < 16 or width < 16:
        raise ValueError(f"scenes need at least 16x16 pixels, got {height}x{width}")
    rng = np.random.default_rng(seed)
    c = Canvas(height, width, rng)
    road_half = rng.uniform(3.5, 6.0)
    walk = rng.uniform(2.0, 4.0)
    _sky(c)
    _ground(c, road_half, walk)
    items = _street_furniture(c, road_half, walk) + _traffic(c, road_half)
    for _, draw in sorted(items, key=lambda item: -item[0]):  # far to near
        draw()
    if rng.random() < 0.3:  # ego vehicle's bonnet: void in Cityscapes
        top = height * rng.uniform(0.9, 0.95)
        c.poly(
            [(0, height), (0, top + height * 0.03), (width * 0.5, top), (width, top + height * 0.03), (width, height)],
            IGNORE_ID,
            c.jitter((40, 40, 45), 10),
        )
    return Scene(_finish(c), c.label)


def _sky(c: Canvas) -> None:
    rows = np.linspace(0, 1, c.h, dtype=np.float32)[:, None, None]
    top, bottom = c.jitter((95, 140, 200), 25), c.jitter((200, 210, 220), 15)
    c.image[:] = top * (1 - rows) + bottom * rows
    c.label[: int(np.ceil(c.horizon)) + 1] = T["sky"]
    for _ in range(c.rng.integers(0, 5)):  # clouds: sky too
        centre = (int(c.rng.uniform(0, c.w)), int(c.rng.uniform(0, c.horizon * 0.7)))
        axes = (int(c.w * c.rng.uniform(0.05, 0.2)), int(c.h * c.rng.uniform(0.02, 0.06)))
        cv2.ellipse(c.image, centre, axes, 0, 0, 360, tuple(float(v) for v in c.jitter((225, 228, 232), 8)), -1)


def _ground(c: Canvas, road_half: float, walk: float) -> None:
    near, far = 0.5, 400.0
    grey = c.jitter((110, 108, 112), 20)
    c.poly([(0, c.h), (0, c.horizon), (c.w, c.horizon), (c.w, c.h)], T["terrain"], c.jitter((95, 140, 70), 20))
    for side in (-1, 1):
        edge, outer = side * road_half, side * (road_half + walk)
        c.poly(
            [c.project(edge, 0, near), c.project(outer, 0, near), c.project(outer, 0, far), c.project(edge, 0, far)],
            T["sidewalk"],
            c.jitter((160, 150, 150), 20),
        )
    c.poly(
        [
            c.project(-road_half, 0, near),
            c.project(road_half, 0, near),
            c.project(road_half, 0, far),
            c.project(-road_half, 0, far),
        ],
        T["road"],
        grey,
    )
    paint = c.jitter((225, 225, 215), 10)
    for lane_x in (-road_half / 3, road_half / 3) if c.rng.random() < 0.5 else (0.0,):
        d = 2.0 + c.rng.uniform(0, 3)
        while d < 80:  # dashed markings are road in Cityscapes
            c.poly(
                [
                    c.project(lane_x - 0.08, 0, d),
                    c.project(lane_x + 0.08, 0, d),
                    c.project(lane_x + 0.08, 0, d + 3),
                    c.project(lane_x - 0.08, 0, d + 3),
                ],
                T["road"],
                paint,
            )
            d += 9.0


def _street_furniture(c: Canvas, road_half: float, walk: float) -> list:
    """Buildings, walls, fences, vegetation, poles with lights and signs: (depth, draw) items."""
    rng, items = c.rng, []
    for side in (-1, 1):
        x = side * (road_half + walk + rng.uniform(0.5, 6.0))
        d = rng.uniform(3, 10)
        while d < 150:
            length, storeys = rng.uniform(8, 30), rng.integers(2, 8)
            items.append((d + length, _building(c, x, d, d + length, storeys * 3.2)))
            d += length + rng.uniform(0, 6)
        kerb_x = side * (road_half + walk * rng.uniform(0.7, 1.0))
        if rng.random() < 0.6:
            d0 = rng.uniform(4, 25)
            name = "wall" if rng.random() < 0.5 else "fence"
            colour = c.jitter((150, 140, 130) if name == "wall" else (120, 110, 95), 20)
            h = rng.uniform(0.8, 2.2)
            items.append(
                (d0 + 20, lambda x=kerb_x, d0=d0, n=name, col=colour, h=h: c.facade(x, d0, d0 + 20, h, T[n], col))
            )
        for _ in range(rng.integers(1, 4)):
            d0 = rng.uniform(4, 40)
            items.append((d0, _tree(c, side * (road_half + walk * rng.uniform(0.3, 0.9)), d0)))
        for _ in range(rng.integers(1, 3)):
            d0 = rng.uniform(5, 35)
            items.append((d0, _pole(c, side * (road_half + 0.4), d0, side)))
    return items


def _building(c: Canvas, x: float, d0: float, d1: float, height: float):
    colour = c.jitter(c.rng.choice([(120, 118, 120), (170, 150, 120), (140, 90, 70), (190, 185, 175)]), 20)
    window = c.jitter((60, 70, 85), 15)
    rows, cols = max(1, int(height / 3.2)), max(1, int((d1 - d0) / 3.0))

    def draw() -> None:
        c.facade(x, d0, d1, height, T["building"], colour)
        for r in range(rows):
            for k in range(cols):
                a, b = d0 + k * (d1 - d0) / cols, d0 + (k + 0.6) * (d1 - d0) / cols
                c.facade(x, a + 0.4, b, r * 3.2 + 2.4, T["building"], window, y0=r * 3.2 + 1.0)

    return draw


def _tree(c: Canvas, x: float, depth: float):
    trunk, crown, r = c.jitter((90, 70, 50), 10), c.jitter((80, 120, 50), 25), c.rng.uniform(1.2, 3.0)
    blobs = [(c.rng.uniform(-r, r) * 0.6, c.rng.uniform(3.0, 3.0 + r), r * c.rng.uniform(0.5, 0.9)) for _ in range(5)]

    def draw() -> None:
        c.box(x - 0.15, x + 0.15, 0, 3.5, depth, T["vegetation"], trunk)
        for dx, y, br in blobs:
            c.ellipse(x + dx, y, br, br * 0.8, depth, T["vegetation"], crown)

    return draw


def _pole(c: Canvas, x: float, depth: float, side: int):
    rng = c.rng
    grey, height = c.jitter((150, 150, 150), 15), rng.uniform(4, 7)
    has_light, has_sign = rng.random() < 0.7, rng.random() < 0.8
    sign_colour = c.jitter(rng.choice([(220, 200, 40), (200, 40, 40), (40, 80, 200)]), 15)
    lamp = rng.choice([(230, 40, 40), (240, 200, 40), (60, 220, 90)])

    def draw() -> None:
        c.box(x - 0.1, x + 0.1, 0, height, depth, T["pole"], grey)
        if has_sign:
            c.box(x - 0.4, x + 0.4, 2.2, 3.0, depth - 0.1, T["traffic sign"], sign_colour)
        if has_light:
            c.box(x - 0.25, x + 0.25, height - 1.1, height, depth - 0.1, T["traffic light"], (35, 35, 35))
            c.ellipse(x, height - 0.3, 0.12, 0.12, depth - 0.15, T["traffic light"], lamp)

    return draw


VEHICLES = {  # name: (width, height, length) in metres
    "car": (1.8, 1.5, 4.5),
    "truck": (2.4, 3.2, 8.0),
    "bus": (2.5, 3.2, 12.0),
    "train": (2.6, 3.6, 20.0),
}


def _traffic(c: Canvas, road_half: float) -> list:
    rng, items = c.rng, []
    plan = ["car"] * int(rng.integers(1, 4)) + [
        n for n, p in (("truck", 0.5), ("bus", 0.4), ("train", 0.3)) if rng.random() < p
    ]
    for name in plan:
        items.append(_vehicle(c, name, rng.uniform(-road_half + 1.2, road_half - 1.2), rng.uniform(6, 45)))
    for _ in range(rng.integers(1, 5)):
        side = rng.choice([-1, 1])
        items.append(_person(c, side * (road_half + rng.uniform(0.5, 2.5)), rng.uniform(4, 30)))
    for name, p in (("bicycle", 0.7), ("motorcycle", 0.5)):
        if rng.random() < p:
            items.append(
                _two_wheeler(
                    c,
                    name,
                    rng.uniform(-road_half + 0.8, road_half - 0.8),
                    rng.uniform(5, 25),
                    ridden=rng.random() < 0.7,
                )
            )
    return items


def _vehicle(c: Canvas, name: str, x: float, depth: float):
    w, h, _ = VEHICLES[name]
    body = c.jitter(c.rng.choice([(120, 120, 125), (30, 30, 35), (200, 200, 205), (150, 30, 30), (30, 60, 140)]), 15)
    glass = c.jitter((50, 60, 70), 10)

    def draw() -> None:
        c.box(x - w / 2, x + w / 2, 0.25, h * (0.62 if name == "car" else 1.0), depth, T[name], body)
        if name == "car":
            c.box(x - w * 0.4, x + w * 0.4, h * 0.6, h, depth + 0.3, T[name], body * 0.9)
            c.box(x - w * 0.35, x + w * 0.35, h * 0.65, h * 0.95, depth + 0.25, T[name], glass)
        else:
            c.box(x - w * 0.45, x + w * 0.45, h * 0.55, h * 0.9, depth - 0.01, T[name], glass)
        for wx in (x - w * 0.35, x + w * 0.35):  # wheels belong to the vehicle
            c.box(wx - 0.2, wx + 0.2, 0, 0.5, depth - 0.02, T[name], (20, 20, 20))

    return depth, draw


def _person(c: Canvas, x: float, depth: float, train_id: int | None = None, base: float = 0.0):
    clothes, skin = (
        c.jitter(c.rng.choice([(40, 40, 60), (150, 40, 40), (200, 200, 190), (90, 110, 60)]), 20),
        c.jitter((200, 160, 130), 15),
    )
    tid = T["person"] if train_id is None else train_id

    def draw() -> None:
        c.box(x - 0.12, x - 0.02, base, base + 0.85, depth, tid, clothes * 0.7)
        c.box(x + 0.02, x + 0.12, base, base + 0.85, depth, tid, clothes * 0.7)
        c.box(x - 0.22, x + 0.22, base + 0.85, base + 1.5, depth, tid, clothes)
        c.ellipse(x, base + 1.65, 0.12, 0.14, depth, tid, skin)

    return depth, draw


def _two_wheeler(c: Canvas, name: str, x: float, depth: float, ridden: bool):
    frame = c.jitter((60, 60, 70) if name == "bicycle" else (160, 30, 30), 20)
    rider = _person(c, x, depth - 0.05, T["rider"], base=0.5)[1] if ridden else None

    def draw() -> None:
        for dy in (-0.35, 0.35):  # seen from behind: wheel above wheel is too thin; use a tall narrow body
            c.ellipse(
                x, 0.35 + dy * 0.2, 0.06 if name == "bicycle" else 0.1, 0.35, depth + dy * 0.1, T[name], (25, 25, 25)
            )
        c.box(x - 0.12, x + 0.12, 0.3, 0.95, depth, T[name], frame)
        if rider is not None:
            rider()

    return depth, draw


def _finish(c: Canvas) -> np.ndarray:
    """Lighting, shadows under the skyline, sensor noise, mild optics blur."""
    rng = c.rng
    yy, xx = np.mgrid[0 : c.h, 0 : c.w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    light = 1 + rng.uniform(0.05, 0.25) * (np.cos(angle) * (xx / c.w - 0.5) + np.sin(angle) * (yy / c.h - 0.5))
    texture = cv2.GaussianBlur(rng.normal(0, 1, (c.h, c.w)).astype(np.float32), (0, 0), max(0.6, c.w / 400))
    image = c.image * light[..., None] + texture[..., None] * rng.uniform(6, 14)
    image *= rng.uniform(0.75, 1.15, 3).astype(np.float32)  # white balance and exposure
    image = cv2.GaussianBlur(image, (0, 0), max(0.5, c.w / 2048))
    image += rng.normal(0, rng.uniform(1.5, 4), image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


class SynthCitySource(Sequence[NamedScene]):
    """``count`` scenes drawn at the output size; scene i's seed comes from the stream
    SeedSequence([seed, i, stream_id]) (``rain.seeds``), so any scene is made alone, in any order."""

    kind = "synthcity"
    has_labels = True
    named_frames = False  # a procedural scene has no name of its own: items are named by their index

    def __init__(self, count: int, height: int, width: int, seed: int = 0, stream_id: int = SCENE) -> None:
        self.count, self.height, self.width, self.seed, self.stream_id = count, height, width, seed, stream_id

    def __len__(self) -> int:
        return self.count

    def item_seed(self, index: int) -> int:
        return stream_int(self.seed, index, self.stream_id)

    def name(self, index: int) -> str:
        return f"synthcity_{index:06d}"

    def scene(self, index: int) -> NamedScene:
        if not 0 <= index < self.count:
            raise IndexError(index)
        scene = generate_scene(self.item_seed(index), self.height, self.width)
        return NamedScene(self.name(index), scene.image, scene.label)

    def __getitem__(self, index: int) -> NamedScene:  # type: ignore[override]
        return self.scene(index)
