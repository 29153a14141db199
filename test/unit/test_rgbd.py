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


@pytest.fixture(scope='module')
def wrist_scene():
    """Render a straight-down view (a wrist camera before a grasp) with a raised support."""
    pytest.importorskip('mitsuba')
    return rgbd.render_rgbd_scene(
        9999, 1, quality='preview', look_down=(90.0, 90.0), supports=1.0
    )


def test_a_straight_down_camera_is_oriented_and_sees_the_support(wrist_scene):
    s = wrist_scene
    n, d = np.array(s.table_plane[:3]), s.table_plane[3]
    assert n @ np.array([0.0, 0.0, -1.0]) == pytest.approx(1.0, abs=1e-6)  # looking straight down
    assert np.all(np.isfinite(s.camera_pose[0]))
    camera = Intrinsics.from_k(rgbd.WIDTH, rgbd.HEIGHT, rgbd.camera_matrix().ravel())
    raised = [o for o in s.objects if o.support]
    assert raised and s.meta['support'] in ('coaster', 'plate', 'board', 'tray')
    for o in raised:
        # its base is on the support, the support's height above the table
        assert np.array(o.base) @ n + d == pytest.approx(o.support_height, abs=1e-6)
        assert 0.003 <= o.support_height <= 0.04
        u, v = camera.project(np.array([o.base]))[0] + 0.5
        x0, y0, x1, y1 = o.box.xyxy()
        if o.visibility > 0.9 and not o.truncated:  # seen from above, the foot is inside
            assert x0 <= u <= x1 and y0 <= v <= y1, o


def test_rgbd_options_are_checked_before_anything_is_drawn():
    with pytest.raises(ValueError, match='0-90'):
        rgbd.rgbd_recipe(1, 0, look_down=(10.0, 95.0))
    with pytest.raises(ValueError, match='probability'):
        rgbd.rgbd_recipe(1, 0, supports=1.5)


def test_the_default_view_is_the_one_every_earlier_rgbd_folder_holds():
    # supports and steep views are drawn from streams of their own: the defaults change nothing
    a = rgbd.rgbd_recipe(9301, 4)
    b = rgbd.rgbd_recipe(9301, 4, look_down=rgbd.LOOK_DOWN_DEG, supports=0.0)
    assert a.camera_origin == b.camera_origin and a.camera_target == b.camera_target
    assert [o.x for o in a.objects] == [o.x for o in b.objects] and not b.supports
