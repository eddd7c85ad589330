"""The camera model of the car preset: thin-lens blur, sizes that scale with the image, calibrations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from derain_seg_ros.rain.camera import Camera, CameraSpecError, camera_spec_from_info, parse_camera
from derain_seg_ros.rain.drop_shapes import Drop
from derain_seg_ros.rain.glass_drops import drop_outline_px, render_glass_drops
from derain_seg_ros.rain.windscreen import Windscreen, pixel_to_glass


def test_circle_of_confusion_matches_a_hand_computation() -> None:
    # fx = 1000 px at 2048 wide, f = 4.2 mm, f/2 (aperture 2.1 mm), focused at 20 m, a drop at 0.1 m:
    # c = A |z - z_f| / z * fx / (z_f - f) = 0.0021 * 199 * 1000 / 19.9958 = 20.8994 px.
    camera = Camera(1000 / 2048, 1000 / 2048, focal_length_mm=4.2, f_number=2.0)
    assert camera.coc_px(0.1, 20.0, 2048) == pytest.approx(20.8994, abs=1e-3)
    assert camera.coc_px(20.0, 20.0, 2048) == 0.0  # in focus
    assert camera.coc_px(0.1, 20.0, 1024) == pytest.approx(20.8994 / 2, abs=1e-3)  # pixels halve with the width


def test_a_drop_farther_from_the_focus_plane_blurs_more() -> None:
    camera, glass = parse_camera("car"), Windscreen()
    h, w = 96, 192
    u, v, _, _ = pixel_to_glass(camera, glass, h, w, np.array([w / 2]), np.array([h / 2]))
    drop = Drop(float(u[0]), float(v[0]), 0.0005)  # a 0.5 mm drop: under a pixel in radius here, the blur ~2 px
    background = np.full((h, w, 3), 0.8, np.float32)
    spreads, peaks = [], []
    for focus in (glass.distance_m, 0.3, 2.0, 20.0):  # ever farther from the drop on the glass
        alpha, _, stats = render_glass_drops(background, [drop], camera, glass, focus)
        yy, xx = np.mgrid[:h, :w]
        total = alpha.sum()
        cy, cx = (alpha * yy).sum() / total, (alpha * xx).sum() / total
        spreads.append(float((alpha * ((yy - cy) ** 2 + (xx - cx) ** 2)).sum() / total))
        peaks.append(float(alpha.max()))
    assert all(a < b for a, b in zip(spreads, spreads[1:])), spreads
    assert all(a > b for a, b in zip(peaks, peaks[1:])), peaks
    assert peaks[-1] < 0.5 < peaks[0]  # in focus nearly opaque; far out of focus a translucent blob


def test_drop_size_in_pixels_doubles_with_the_resolution() -> None:
    camera, glass = parse_camera("car"), Windscreen()
    drop = Drop(0.004, 0.01, 0.002, "egg", 3, 1.2)
    radii, areas = [], []
    for h, w in ((64, 128), (128, 256)):
        poly = drop_outline_px(drop, camera, glass, h, w)
        radii.append(np.ptp(poly[:, 0]))
        alpha, _, _ = render_glass_drops(np.full((h, w, 3), 0.5, np.float32), [drop], camera, glass, glass.distance_m)
        areas.append(float(alpha.sum()))
    assert radii[1] == pytest.approx(2 * radii[0], rel=1e-6)
    assert areas[1] == pytest.approx(4 * areas[0], rel=0.1)


def test_camera_from_k_keeps_the_calibration_at_its_size_and_scales_with_a_resize() -> None:
    camera = parse_camera("k=1000,1010,639.5,359.5@1280x720")
    assert camera.intrinsics(720, 1280) == pytest.approx((1000, 1010, 639.5, 359.5))
    assert camera.intrinsics(360, 640) == pytest.approx((500, 505, 319.5, 179.5))
    assert parse_camera("hfov=90").intrinsics(100, 200)[0] == pytest.approx(100.0)


def test_camera_info_yaml_is_read_in_both_ros_layouts(tmp_path: Path) -> None:
    calibration = tmp_path / "calib.yaml"
    calibration.write_text(
        "image_width: 640\nimage_height: 480\ncamera_name: front\n"
        "camera_matrix:\n  rows: 3\n  cols: 3\n  data: [500.0, 0.0, 319.5, 0.0, 501.0, 239.5, 0.0, 0.0, 1.0]\n"
    )
    info = tmp_path / "info.yaml"
    info.write_text("width: 640\nheight: 480\nk: [500.0, 0.0, 319.5, 0.0, 501.0, 239.5, 0.0, 0.0, 1.0]\n")
    assert camera_spec_from_info(calibration) == camera_spec_from_info(info) == "k=500,501,319.5,239.5@640x480"
    (tmp_path / "bad.yaml").write_text("width: 640\n")
    with pytest.raises(CameraSpecError, match="bad.yaml"):
        camera_spec_from_info(tmp_path / "bad.yaml")


@pytest.mark.parametrize("spec", ["fisheye", "hfov=abc", "hfov=0", "k=1,2,3@640x480", "k=0,1,2,3@640x480"])
def test_bad_camera_specs_are_clear_errors(spec: str) -> None:
    with pytest.raises(CameraSpecError):
        parse_camera(spec)
