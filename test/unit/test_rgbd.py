"""glass_perception.workflow.rgbd: the RGB-D scenes' geometry, ground truth and sensor model."""

from glass_perception.core.camera_model import Intrinsics, parse_camera_info_yaml
from glass_perception.workflow import rgbd
import numpy as np
import pytest


@pytest.fixture(scope='module')
def scene():
    pytest.importorskip('mitsuba')
    return rgbd.render_rgbd_scene(9999, 3, quality='preview')


def test_true_depth_of_the_table_lies_on_the_true_table_plane(scene):
    camera = Intrinsics.from_k(rgbd.WIDTH, rgbd.HEIGHT, rgbd.camera_matrix().ravel())
    v, u = np.mgrid[380:470:7, 20:620:13]
    z = scene.true_depth[v, u]
    points = camera.rays(u.ravel(), v.ravel()) * z.ravel()[:, None]
    n, d = np.array(scene.table_plane[:3]), scene.table_plane[3]
    off = points @ n + d
    # the bottom rows see the table (objects stand in the middle); a few pixels may see a glass
    assert np.median(np.abs(off)) < 0.002


def test_ground_truth_projects_into_the_boxes(scene):
    camera = Intrinsics.from_k(rgbd.WIDTH, rgbd.HEIGHT, rgbd.camera_matrix().ravel())
    n, d = np.array(scene.table_plane[:3]), scene.table_plane[3]
    assert scene.objects
    for o in scene.objects:
        x0, y0, x1, y1 = o.box.xyxy()
        u, v = camera.project(np.array([o.centre]))[0] + 0.5
        if o.visibility > 0.9 and not o.truncated:
            assert x0 <= u <= x1 and y0 <= v <= y1, o
        assert abs(np.array(o.base) @ n + d) < 1e-6  # standing on the table
        assert 0.03 < o.height < 0.3 and 0.02 < o.diameter < 0.2


def test_the_sensor_does_not_see_glass_but_sees_the_table(scene):
    glasses = [o for o in scene.objects if o.kind in rgbd.TRANSPARENT_KINDS and o.visibility > 0.9]
    for o in glasses:
        x0, y0, x1, y1 = (int(v) for v in o.box.xyxy())
        reported = scene.depth[y0:y1, x0:x1].astype(float) / 1000.0
        seen = reported > 0
        assert seen.mean() < 0.8  # holes
        # what it reports is behind the glass's axis, not on it
        assert np.median(reported[seen]) > o.centre[2] if seen.any() else True
    table = scene.depth[440:470, 20:620]
    assert (table > 0).mean() > 0.9


def test_camera_info_yaml_is_what_drivers_load():
    info = parse_camera_info_yaml(rgbd.camera_info_yaml())
    assert (info['width'], info['height']) == (640, 480)
    assert info['k'] == list(rgbd.camera_matrix().ravel())
    assert info['distortion_model'] == 'plumb_bob' and info['d'] == [0, 0, 0, 0, 0]
