"""
The transforms of /tf and /tf_static, looked up between two frames at a stamp.

tf2's model (a tree of frames, each edge child -> parent stamped, static edges for ever, linear
interpolation of translation and spherical of rotation between the two samples around a stamp),
written out here because tf2 and tf2_ros are not on PyPI; on a robot with a distro the same
messages come from robot_state_publisher and the arm's driver. Only what the localizer needs:
a lookup at one stamp, no waiting, no extrapolation beyond ``tolerance_s``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

MAX_DEPTH = 32


def matrix(translation, quaternion) -> np.ndarray:
    """Return the 4x4 of a translation and an (x, y, z, w) quaternion."""
    out = np.eye(4)
    out[:3, :3] = Rotation.from_quat(np.asarray(quaternion, float)).as_matrix()
    out[:3, 3] = np.asarray(translation, float)
    return out


def camera_in_world(pose: dict) -> tuple[np.ndarray, np.ndarray]:
    """
    Return (translation, quaternion x y z w) of p_world = T @ p_optical for a sequence's truth.

    ``pose``: {'R': 3x3, 't': 3} with p_optical = R @ p_world + t (glass-synth sequences).
    """
    rot, t = np.asarray(pose['R'], float), np.asarray(pose['t'], float)
    return -rot.T @ t, Rotation.from_matrix(rot.T).as_quat()


class TransformBuffer:
    """Edges child -> parent from TFMessages; see the module docstring."""

    def __init__(self, cache_s: float = 10.0, tolerance_s: float = 0.05):
        self.cache_s, self.tolerance_s = cache_s, tolerance_s
        self._static: dict[str, tuple[str, np.ndarray]] = {}
        self._dynamic: dict[str, tuple[str, deque]] = {}

    def add(self, parent: str, child: str, stamp_s: float, translation, quaternion, static=False):
        """Store one transform: p_parent = T @ p_child. Raise ValueError if it is not one."""
        parent, child = parent.lstrip('/'), child.lstrip('/')
        if not parent or not child or parent == child:
            raise ValueError(f"transform '{parent}' -> '{child}' needs two different frames")
        q = np.asarray(quaternion, float)
        t = np.asarray(translation, float)
        norm = float(np.linalg.norm(q))
        if not (np.all(np.isfinite(t)) and np.all(np.isfinite(q)) and abs(norm - 1.0) < 1e-2):
            raise ValueError(f"transform '{parent}' -> '{child}': not a finite unit quaternion")
        if static:
            self._static[child] = (parent, matrix(t, q / norm))
            return
        known = self._dynamic.get(child)
        if known is None or known[0] != parent:
            known = (parent, deque())
            self._dynamic[child] = known
        samples = known[1]
        if samples and stamp_s <= samples[-1][0]:
            if stamp_s < samples[-1][0] - self.cache_s:
                samples.clear()  # time went back (a bag played again)
            else:
                return  # out of order or repeated: tf2 keeps the first
        samples.append((float(stamp_s), t, q / norm))
        while samples and samples[0][0] < stamp_s - self.cache_s:
            samples.popleft()

    def _edge(self, child: str, stamp_s: float):
        if child in self._static:
            return self._static[child]
        known = self._dynamic.get(child)
        if known is None or not known[1]:
            return None
        parent, samples = known
        stamps = [s for s, _, _ in samples]
        i = bisect_left(stamps, stamp_s)
        if i < len(stamps) and stamps[i] == stamp_s:
            return parent, matrix(samples[i][1], samples[i][2])
        if i == 0 or i == len(stamps):
            s, t, q = samples[0] if i == 0 else samples[-1]
            if abs(s - stamp_s) > self.tolerance_s:
                return None
            return parent, matrix(t, q)
        (s0, t0, q0), (s1, t1, q1) = samples[i - 1], samples[i]
        u = (stamp_s - s0) / (s1 - s0)
        rot = Slerp([0.0, 1.0], Rotation.from_quat([q0, q1]))([u])[0]
        out = np.eye(4)
        out[:3, :3] = rot.as_matrix()
        out[:3, 3] = (1 - u) * t0 + u * t1
        return parent, out

    def _to_root(self, frame: str, stamp_s: float):
        """Return {ancestor: T (p_ancestor = T @ p_frame)} up the tree, or None on a gap."""
        chain = {frame: np.eye(4)}
        current, acc = frame, np.eye(4)
        for _ in range(MAX_DEPTH):
            if current not in self._static and current not in self._dynamic:
                return chain
            edge = self._edge(current, stamp_s)
            if edge is None:
                return chain
            parent, t = edge
            acc = t @ acc
            if parent in chain:
                return chain  # a loop: tf2 refuses it too
            chain[parent] = acc
            current = parent
        return chain

    def lookup(self, target: str, source: str, stamp_s: float) -> np.ndarray | None:
        """Return T with p_target = T @ p_source at ``stamp_s``, or None if not connected."""
        target, source = target.lstrip('/'), source.lstrip('/')
        if target == source:
            return np.eye(4)
        up_source = self._to_root(source, stamp_s)
        up_target = self._to_root(target, stamp_s)
        common = next((f for f in up_source if f in up_target), None)
        if common is None:
            return None
        return np.linalg.inv(up_target[common]) @ up_source[common]

    def add_message(self, msg, static: bool = False) -> int:
        """Store a tf2_msgs/TFMessage; return how many transforms it held that were refused."""
        refused = 0
        for ts in msg.transforms:
            t, r = ts.transform.translation, ts.transform.rotation
            stamp = ts.header.stamp.sec + ts.header.stamp.nanosec * 1e-9
            try:
                self.add(
                    ts.header.frame_id,
                    ts.child_frame_id,
                    stamp,
                    (t.x, t.y, t.z),
                    (r.x, r.y, r.z, r.w),
                    static,
                )
            except ValueError:
                refused += 1
        return refused
