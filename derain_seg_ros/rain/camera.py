"""The camera the rain is seen through: pinhole intrinsics that scale with the image, and a thin lens.

Intrinsics are kept as fractions of the image size (fx / W, fy / W, cx / W, cy / H), so a drop of
given millimetres covers twice the pixels at twice the resolution, and a calibration taken at one
resolution (sensor_msgs/CameraInfo K at WxH) applies to the same frames resized. The lens (focal
length in mm, f-number) gives each object's circle of confusion from the thin-lens model:

    c = A * |z - z_f| / z * f / (z_f - f)        (on the sensor, metres; A = f / N, the aperture)
    c_px = c / pitch,  pitch = f / fx_px         (so c_px = A * |z - z_f| / z * fx_px / (z_f - f))

z the object's depth, z_f the focus distance. A camera focused on the road (z_f = 20 m) sees
windscreen drops at ~0.1 m blurred over tens of pixels at 2048 wide: translucent blobs.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

from derain_seg_ros.errors import DerainSegError


class CameraSpecError(DerainSegError, ValueError):
    """A camera preset, field of view or K that cannot be read."""


@dataclass(frozen=True)
class Camera:
    fx_frac: float  # fx / image width
    fy_frac: float  # fy / image width (square pixels: fx_frac)
    cx_frac: float = 0.5  # cx / image width
    cy_frac: float = 0.5  # cy / image height
    focal_length_mm: float = 4.2  # the lens' physical focal length: sets the depth of field with f_number
    f_number: float = 2.0
    name: str = "custom"

    @classmethod
    def from_hfov(cls, hfov_deg: float, **lens: float | str) -> Camera:
        if not 1.0 <= hfov_deg <= 170.0:
            raise CameraSpecError(f"a horizontal field of view is between 1 and 170 degrees, got {hfov_deg}")
        f = 0.5 / math.tan(math.radians(hfov_deg) / 2)
        return cls(f, f, **lens)  # type: ignore[arg-type]

    @classmethod
    def from_k(cls, fx: float, fy: float, cx: float, cy: float, width: int, height: int, **lens: float | str) -> Camera:
        """From a calibration (sensor_msgs/CameraInfo K = [fx 0 cx; 0 fy cy; 0 0 1]) taken at width x height."""
        if min(fx, fy, width, height) <= 0:
            raise CameraSpecError(f"K needs positive fx, fy and image size, got fx={fx} fy={fy} size={width}x{height}")
        # K's pixel centres are integers: (cx + 0.5) / W is the fraction that survives a resize.
        return cls(fx / width, fy / width, (cx + 0.5) / width, (cy + 0.5) / height, **lens)  # type: ignore[arg-type]

    def intrinsics(self, height: int, width: int) -> tuple[float, float, float, float]:
        """(fx, fy, cx, cy) in pixels for an image of height x width (pixel centres at integers)."""
        return (self.fx_frac * width, self.fy_frac * width, self.cx_frac * width - 0.5, self.cy_frac * height - 0.5)

    @property
    def aperture_m(self) -> float:
        return self.focal_length_mm / 1000.0 / self.f_number

    def coc_px(self, depth_m: float, focus_m: float, width: int) -> float:
        """Thin-lens circle of confusion (diameter, pixels) of a point at ``depth_m`` with the lens focused at ``focus_m``."""
        f = self.focal_length_mm / 1000.0
        if depth_m <= f or focus_m <= f:
            raise ValueError(f"depth {depth_m} m and focus {focus_m} m must exceed the focal length {f} m")
        return self.aperture_m * abs(depth_m - focus_m) / depth_m * (self.fx_frac * width) / (focus_m - f)

    def hfov_deg(self) -> float:
        return math.degrees(2 * math.atan(0.5 / self.fx_frac))

    def describe(self, height: int, width: int) -> dict[str, float | str]:
        fx, fy, cx, cy = self.intrinsics(height, width)
        return {
            "name": self.name,
            "fx": round(fx, 2),
            "fy": round(fy, 2),
            "cx": round(cx, 2),
            "cy": round(cy, 2),
            "hfov_deg": round(self.hfov_deg(), 2),
            "focal_length_mm": self.focal_length_mm,
            "f_number": self.f_number,
        }


# Lenses are typical of their class, not measured: an ADAS front camera (~70 deg, f 4.2 mm, f/2),
# a wide dash cam (~120 deg, f 2.8 mm, f/1.8) and Cityscapes' intrinsics (fx 2262.5 px at 2048).
PRESETS: dict[str, Camera] = {
    "car": replace(Camera.from_hfov(70.0), name="car"),
    "wide": replace(Camera.from_hfov(120.0, focal_length_mm=2.8, f_number=1.8), name="wide"),
    "cityscapes": Camera.from_k(
        2262.52, 2265.30, 1096.98, 513.14, 2048, 1024, focal_length_mm=6.0, f_number=2.0, name="cityscapes"
    ),
}


def parse_camera(spec: str) -> Camera:
    """'car' | 'wide' | 'cityscapes' | 'hfov=DEG' | 'k=fx,fy,cx,cy@WxH' (the car preset's lens for the last two)."""
    text = spec.strip().lower()
    if text in PRESETS:
        return PRESETS[text]
    lens = {"focal_length_mm": PRESETS["car"].focal_length_mm, "f_number": PRESETS["car"].f_number, "name": spec}
    try:
        if text.startswith("hfov="):
            return Camera.from_hfov(float(text[5:]), **lens)
        if text.startswith("k="):
            values, size = text[2:].split("@")
            fx, fy, cx, cy = (float(v) for v in values.split(","))
            width, height = (int(v) for v in size.split("x"))
            return Camera.from_k(fx, fy, cx, cy, width, height, **lens)
    except ValueError as exc:
        if isinstance(exc, CameraSpecError):
            raise
        raise CameraSpecError(f"cannot read camera {spec!r}: expected hfov=DEG or k=fx,fy,cx,cy@WxH ({exc})") from None
    raise CameraSpecError(f"unknown camera {spec!r}: choose {', '.join(PRESETS)}, hfov=DEG or k=fx,fy,cx,cy@WxH")


def camera_spec_from_info(path: str | os.PathLike) -> str:
    """A ROS camera calibration YAML (camera_matrix.data, image_width/height) or a CameraInfo dump (k, width, height) -> 'k=...'."""
    import yaml

    try:
        info = yaml.safe_load(Path(path).read_text())
        if "camera_matrix" in info:
            k, width, height = info["camera_matrix"]["data"], info["image_width"], info["image_height"]
        else:
            k, width, height = info["k"], info["width"], info["height"]
        fx, cx, fy, cy = float(k[0]), float(k[2]), float(k[4]), float(k[5])
    except (OSError, yaml.YAMLError, KeyError, IndexError, TypeError, ValueError) as exc:
        raise CameraSpecError(f"{path}: not a camera calibration YAML with K and the image size ({exc})") from None
    spec = f"k={fx:g},{fy:g},{cx:g},{cy:g}@{int(width)}x{int(height)}"
    parse_camera(spec)  # fail here, with the file named, rather than in a worker
    return spec
