"""
Building and reading vision_msgs / std_msgs / diagnostic_msgs messages.

Message classes only: no rclpy.
"""

from __future__ import annotations

import math

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import TransformStamped
from std_msgs.msg import Header
from vision_msgs.msg import (
    BoundingBox2D,
    Detection2D,
    Detection2DArray,
    Detection3D,
    Detection3DArray,
    LabelInfo,
    ObjectHypothesis,
    ObjectHypothesisWithPose,
    VisionClass,
)
from visualization_msgs.msg import Marker, MarkerArray

from .geometry import Box
from .tf_buffer import camera_in_world


def copy_header(h) -> Header:
    """Return a new Header with the source's stamp and frame_id (messages must not share one)."""
    out = Header()
    out.stamp.sec, out.stamp.nanosec = h.stamp.sec, h.stamp.nanosec
    out.frame_id = h.frame_id
    return out


def stamp_key(h) -> tuple[int, int]:
    return (int(h.stamp.sec), int(h.stamp.nanosec))


def stamp_seconds(h) -> float:
    return h.stamp.sec + h.stamp.nanosec * 1e-9


def bbox(box: Box) -> BoundingBox2D:
    b = BoundingBox2D()
    b.center.position.x, b.center.position.y, b.center.theta = float(box.cx), float(box.cy), 0.0
    b.size_x, b.size_y = float(box.w), float(box.h)
    return b


def box_of(d: Detection2D) -> Box:
    """Return the detection's box; ValueError if it is not finite and of positive size."""
    b = d.bbox
    box = Box(b.center.position.x, b.center.position.y, b.size_x, b.size_y)
    if not box.is_valid():
        raise ValueError(f'invalid box (cx={box.cx}, cy={box.cy}, w={box.w}, h={box.h})')
    return box


def detection(header, box: Box, results: list[tuple[str, float]], det_id: str = '') -> Detection2D:
    d = Detection2D()
    d.header = copy_header(header)
    d.bbox = bbox(box)
    d.id = det_id
    for class_id, score in results:
        h = ObjectHypothesisWithPose()
        h.hypothesis = ObjectHypothesis(class_id=str(class_id), score=float(score))
        d.results.append(h)
    return d


def detection_array(header, detections: list[Detection2D]) -> Detection2DArray:
    m = Detection2DArray()
    m.header = copy_header(header)
    m.detections = detections
    return m


def label_info(header, class_names: list[str], threshold: float) -> LabelInfo:
    m = LabelInfo()
    m.header = copy_header(header)
    m.class_map = [VisionClass(class_id=i, class_name=n) for i, n in enumerate(class_names)]
    m.threshold = float(threshold)
    return m


def ranked_hypotheses(d) -> list[tuple[str, float]]:
    """Return a detection's (class_id, score), best first; ValueError on a score not in [0, 1]."""
    out = []
    for r in d.results:
        score = float(r.hypothesis.score)
        if not (math.isfinite(score) and 0.0 <= score <= 1.0):
            raise ValueError(f"hypothesis '{r.hypothesis.class_id[:32]}' has score {score}")
        out.append((str(r.hypothesis.class_id), score))
    return sorted(out, key=lambda cs: -cs[1])


def best_hypothesis(d: Detection2D) -> tuple[str, float]:
    if not d.results:
        return ('', math.nan)
    h = max(d.results, key=lambda r: r.hypothesis.score)
    return h.hypothesis.class_id, h.hypothesis.score


def format_detections(msg, title: str = '') -> str:
    """Format a Detection2DArray as a few readable lines (what glass-echo prints)."""
    h = msg.header
    head = (
        f"{title}stamp {h.stamp.sec}.{h.stamp.nanosec:09d} frame '{h.frame_id}': "
        f'{len(msg.detections)} object(s)'
    )
    lines = [head]
    for d in msg.detections:
        ranked = sorted(
            ((r.hypothesis.class_id, r.hypothesis.score) for r in d.results), key=lambda x: -x[1]
        )
        best = f'{ranked[0][0]} {ranked[0][1]:.2f}' if ranked else '(no hypotheses)'
        rest = ', '.join(f'{c} {s:.2f}' for c, s in ranked[1:])
        b = d.bbox
        lines.append(
            f'  [{d.id or "-"}] {best:<18} {("(" + rest + ")") if rest else "":<34} '
            f'box centre ({b.center.position.x:.0f}, {b.center.position.y:.0f}) '
            f'size {b.size_x:.0f}x{b.size_y:.0f}'
        )
    return '\n'.join(lines)


def diagnostic_array(header, name: str, hardware_id: str, report) -> DiagnosticArray:
    """
    Return one node's health (a core.monitor.Report) as a DiagnosticArray.

    The message that rqt and aggregators read.
    """
    status = DiagnosticStatus(
        level=bytes([report.level]), name=name, message=report.message, hardware_id=hardware_id
    )
    status.values = [KeyValue(key=k, value=v) for k, v in report.values]
    return DiagnosticArray(header=header, status=[status])


def _pose(msg_pose, position, quaternion) -> None:
    msg_pose.position.x, msg_pose.position.y, msg_pose.position.z = (float(v) for v in position)
    o = msg_pose.orientation
    o.x, o.y, o.z, o.w = (float(v) for v in quaternion)


def detection3d(header, glass) -> Detection3D:
    """
    Return a core.localizer.Glass3D as a Detection3D.

    The bbox is the upright box around the glass (diameter x diameter x height, centred on the
    axis at mid-height, z along the surface normal); ``results`` are the fused hypotheses, best
    first, each with the pose and its 6x6 covariance.
    """
    loc = glass.localization
    q = loc.quaternion()
    d = Detection3D()
    d.header = copy_header(header)
    d.id = glass.det_id
    _pose(d.bbox.center, loc.centre, q)
    d.bbox.size.x = d.bbox.size.y = float(loc.diameter)
    d.bbox.size.z = float(loc.height)
    cov = [float(v) for v in loc.pose_covariance().ravel()]
    for class_id, score in glass.fused:
        h = ObjectHypothesisWithPose()
        h.hypothesis = ObjectHypothesis(class_id=str(class_id), score=float(score))
        _pose(h.pose.pose, loc.centre, q)
        h.pose.covariance = cov
        d.results.append(h)
    return d


def truth_detection3d(header, obj: dict) -> Detection3D:
    """Return a synthetic scene's ground-truth object (truth.json) as an upright Detection3D."""
    d = Detection3D()
    d.header = copy_header(header)
    # a sequence's objects keep their id over its frames
    d.id = f'truth-{obj["track_id"]}' if 'track_id' in obj else str(obj.get('variant', ''))
    _pose(d.bbox.center, obj['centre'], (0.0, 0.0, 0.0, 1.0))
    d.bbox.size.x = d.bbox.size.y = float(obj['diameter'])
    d.bbox.size.z = float(obj['height'])
    h = ObjectHypothesisWithPose()
    h.hypothesis = ObjectHypothesis(class_id=str(obj['kind']), score=1.0)
    _pose(h.pose.pose, obj['base'], (0.0, 0.0, 0.0, 1.0))  # the pose is the base centre
    d.results.append(h)
    return d


def camera_transform(header, parent: str, pose: dict) -> TransformStamped:
    """
    Return the TF of a camera at ``header`` in ``parent``: p_parent = T @ p_camera.

    ``pose`` is a sequence's truth: p_optical = R @ p_world + t.
    """
    origin, q = camera_in_world(pose)
    ts = TransformStamped()
    ts.header = copy_header(header)
    ts.header.frame_id = parent
    ts.child_frame_id = header.frame_id
    ts.transform.translation.x, ts.transform.translation.y, ts.transform.translation.z = (
        float(v) for v in origin
    )
    r = ts.transform.rotation
    r.x, r.y, r.z, r.w = (float(v) for v in q)
    return ts


def base_of(d: Detection3D) -> tuple[float, float, float]:
    """Return where an upright Detection3D stands: its bbox centre less half its height along z."""
    c, o = d.bbox.center.position, d.bbox.center.orientation
    # the box's z axis: the third column of the quaternion's rotation matrix
    zx = 2.0 * (o.x * o.z + o.w * o.y)
    zy = 2.0 * (o.y * o.z - o.w * o.x)
    zz = 1.0 - 2.0 * (o.x * o.x + o.y * o.y)
    half = d.bbox.size.z / 2.0
    return (c.x - half * zx, c.y - half * zy, c.z - half * zz)


def detection3d_array(header, detections: list[Detection3D]) -> Detection3DArray:
    m = Detection3DArray()
    m.header = copy_header(header)
    m.detections = detections
    return m


#: marker colours (r, g, b, a): fragile glass in the warning colour of the debug image
FRAGILE_RGBA = (1.0, 0.27, 0.0, 0.8)
OTHER_RGBA = (0.2, 0.8, 0.3, 0.6)
UNSURE_RGBA = (0.7, 0.7, 0.7, 0.5)


def glass_markers(header, glasses, lifetime_s: float) -> MarkerArray:
    """
    Return a cylinder and a text per glass for rviz2; they vanish after ``lifetime_s``.

    Text: class, fused probability, id and distance; a flagged or size-prior position is grey and
    marked '?'.
    """
    out = MarkerArray()
    # the previous frame's markers go first, so a glass that left does not linger
    out.markers.append(Marker(header=copy_header(header), action=Marker.DELETEALL))
    sec = int(lifetime_s)
    nanosec = int(round((lifetime_s - sec) * 1e9))
    for i, g in enumerate(glasses):
        loc = g.localization
        unsure = bool(loc.flag)
        rgba = UNSURE_RGBA if unsure else FRAGILE_RGBA if g.fragile else OTHER_RGBA
        cyl = Marker(header=copy_header(header), ns='glass', id=i, type=Marker.CYLINDER)
        cyl.action = Marker.ADD
        _pose(cyl.pose, loc.centre, loc.quaternion())
        cyl.scale.x = cyl.scale.y = max(float(loc.diameter), 0.005)
        cyl.scale.z = max(float(loc.height), 0.005)
        cyl.color.r, cyl.color.g, cyl.color.b, cyl.color.a = rgba
        text = Marker(
            header=copy_header(header), ns='glass_text', id=i, type=Marker.TEXT_VIEW_FACING
        )
        text.action = Marker.ADD
        top = loc.centre + (loc.height / 2.0 + 0.03) * loc.axis
        _pose(text.pose, top, (0.0, 0.0, 0.0, 1.0))
        text.scale.z = 0.025
        text.color.r = text.color.g = text.color.b = text.color.a = 1.0
        name, p = g.fused[0] if g.fused else ('?', 0.0)
        text.text = f'{name} {p:.2f} [{g.det_id or i}] {loc.distance:.2f} m'
        text.text += ' ?' if unsure else ''
        for m in (cyl, text):
            m.lifetime.sec, m.lifetime.nanosec = sec, nanosec
            out.markers.append(m)
    return out
