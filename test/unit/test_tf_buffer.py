"""The TF lookups the localizer makes: chains, static edges, interpolation, refusals."""

from __future__ import annotations

from glass_perception.core.tf_buffer import camera_in_world, matrix, TransformBuffer
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

Q_IDENTITY = (0.0, 0.0, 0.0, 1.0)


def test_a_chain_of_a_static_and_a_moving_edge_is_composed_and_interpolated():
    tf = TransformBuffer()
    q90 = Rotation.from_euler('z', 90, degrees=True).as_quat()
    tf.add('world', 'base_link', 0.0, (1.0, 0.0, 0.0), q90, static=True)
    tf.add('base_link', 'camera', 10.0, (0.0, 0.0, 1.0), Q_IDENTITY)
    tf.add('base_link', 'camera', 11.0, (0.0, 0.2, 1.0), Q_IDENTITY)
    t = tf.lookup('world', 'camera', 10.5)  # p_world = t @ p_camera
    assert t @ np.array([0, 0, 0, 1.0]) == pytest.approx([1.0 - 0.1, 0.0, 1.0, 1.0])
    back = tf.lookup('camera', 'world', 10.5)
    assert back @ t == pytest.approx(np.eye(4))
    assert tf.lookup('world', 'camera', 20.0) is None  # no extrapolation beyond the tolerance
    assert tf.lookup('world', 'camera', 11.02) is not None  # within it
    assert tf.lookup('world', 'elsewhere', 10.5) is None


def test_rotation_is_interpolated_spherically():
    tf = TransformBuffer()
    tf.add('world', 'cam', 0.0, (0, 0, 0), Q_IDENTITY)
    tf.add('world', 'cam', 1.0, (0, 0, 0), Rotation.from_euler('x', 60, degrees=True).as_quat())
    mid = tf.lookup('world', 'cam', 0.5)
    assert Rotation.from_matrix(mid[:3, :3]).as_euler('xyz', degrees=True)[0] == pytest.approx(30)


@pytest.mark.parametrize(
    'parent, child, q',
    [
        ('', 'cam', Q_IDENTITY),
        ('a', 'a', Q_IDENTITY),
        ('a', 'b', (0, 0, 0, 0)),
        ('a', 'b', (np.nan, 0, 0, 1)),
    ],
)
def test_malformed_transforms_are_refused(parent, child, q):
    with pytest.raises(ValueError):
        TransformBuffer().add(parent, child, 0.0, (0, 0, 0), q)


def test_a_sequence_pose_round_trips():
    rot = Rotation.from_euler('xyz', [10, -20, 30], degrees=True).as_matrix()
    pose = {'R': rot.tolist(), 't': [0.1, -0.2, 0.9]}
    origin, q = camera_in_world(pose)
    world_from_camera = matrix(origin, q)
    p_world = np.array([0.3, 0.1, -0.2])
    p_camera = rot @ p_world + pose['t']
    assert (world_from_camera @ np.append(p_camera, 1))[:3] == pytest.approx(p_world)
