"""glass_perception.core.camera_model: intrinsics from camera_info, rays, and their YAML."""

import math

from glass_perception.core.camera_model import (
    CameraModelError,
    Intrinsics,
    parse_camera_info_yaml,
)
import numpy as np
import pytest

K = [615.0, 0.0, 321.2, 0.0, 614.0, 238.7, 0.0, 0.0, 1.0]


def test_rays_and_projection_are_inverse():
    cam = Intrinsics.from_k(640, 480, K)
    pts = np.array([[0.1, -0.05, 0.8], [-0.3, 0.2, 1.4], [0.0, 0.0, 0.5]])
    uv = cam.project(pts)
    rays = cam.rays(uv[:, 0], uv[:, 1])
    assert np.allclose(rays * pts[:, 2:3], pts, atol=1e-9)
    assert cam.rays([321.2], [238.7])[0] == pytest.approx([0.0, 0.0, 1.0])


def test_distorted_pixels_are_undistorted_before_they_become_rays():
    d = [0.12, -0.25, 0.001, -0.002, 0.05]
    cam = Intrinsics.from_k(640, 480, K, 'plumb_bob', d)
    pts = np.array([[0.25, 0.18, 1.0], [-0.2, 0.1, 0.7]])
    uv = cam.project(pts)
    plain = Intrinsics.from_k(640, 480, K).project(pts)
    assert np.abs(uv - plain).max() > 1.0  # the distortion matters at these pixels
    assert np.allclose(cam.rays(uv[:, 0], uv[:, 1])[:, :2], pts[:, :2] / pts[:, 2:3], atol=1e-4)


@pytest.mark.parametrize(
    'k, why',
    [
        ([0.0] * 9, 'uncalibrated'),
        ([math.nan] + K[1:], 'NaN'),
        (K[:8], 'not 9'),
        ([-615.0] + K[1:], 'uncalibrated'),
    ],
)
def test_a_zero_or_nan_k_is_refused(k, why):
    with pytest.raises(CameraModelError, match=why):
        Intrinsics.from_k(640, 480, k)


def test_scaling_keeps_the_principal_point_at_the_same_place_in_the_picture():
    cam = Intrinsics.from_k(640, 480, [600, 0, 319.5, 0, 600, 239.5, 0, 0, 1])
    half = cam.scaled(320, 240)
    assert (half.fx, half.cx, half.cy) == (300.0, 159.5, 119.5)


YAML = """image_width: 640
image_height: 480
camera_name: d435
camera_matrix:
  rows: 3
  cols: 3
  data: [615.0, 0, 321.2, 0, 614.0, 238.7, 0, 0, 1]
distortion_model: plumb_bob
distortion_coefficients:
  rows: 1
  cols: 5
  data: [0, 0, 0, 0, 0]
rectification_matrix:
  rows: 3
  cols: 3
  data: [1, 0, 0, 0, 1, 0, 0, 0, 1]
projection_matrix:
  rows: 3
  cols: 4
  data: [615.0, 0, 321.2, 0, 0, 614.0, 238.7, 0, 0, 0, 1, 0]
"""


def test_camera_calibration_parsers_yaml_is_read():
    info = parse_camera_info_yaml(YAML)
    assert info['k'] == K and info['camera_name'] == 'd435' and len(info['p']) == 12


@pytest.mark.parametrize(
    'broken, why',
    [
        (YAML.replace('image_width: 640\n', ''), "'image_width'"),
        (
            YAML.replace('data: [615.0, 0, 321.2, 0, 614.0, 238.7, 0, 0, 1]', 'data: [1, 2]'),
            "'camera_matrix' must hold 9",
        ),
        (YAML.replace('615.0, 0, 321.2, 0, 614.0', '0, 0, 321.2, 0, 0'), 'uncalibrated'),
        ('{not: [yaml', 'not YAML'),
        ('- a list', 'mapping'),
    ],
)
def test_a_broken_yaml_names_what_is_wrong(broken, why):
    with pytest.raises(CameraModelError, match=why):
        parse_camera_info_yaml(broken)
