"""Building and reading vision_msgs / std_msgs / diagnostic_msgs messages. Message classes only: no rclpy."""

from __future__ import annotations

import math

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from std_msgs.msg import Header
from vision_msgs.msg import (
    BoundingBox2D,
    Detection2D,
    Detection2DArray,
    LabelInfo,
    ObjectHypothesis,
    ObjectHypothesisWithPose,
    VisionClass,
)

from .geometry import Box


def copy_header(h) -> Header:
    """A new Header with the source's stamp and frame_id (messages must not share one)."""
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
    """The detection's box; ValueError if it is not finite and of positive size."""
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


def best_hypothesis(d: Detection2D) -> tuple[str, float]:
    if not d.results:
        return ('', math.nan)
    h = max(d.results, key=lambda r: r.hypothesis.score)
    return h.hypothesis.class_id, h.hypothesis.score


def format_detections(msg, title: str = '') -> str:
    """A Detection2DArray as a few readable lines (what glass-echo prints)."""
    h = msg.header
    head = f"{title}stamp {h.stamp.sec}.{h.stamp.nanosec:09d} frame '{h.frame_id}': {len(msg.detections)} object(s)"
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
    """One node's health (a core.monitor.Report) as the DiagnosticArray that rqt and aggregators read."""
    status = DiagnosticStatus(
        level=bytes([report.level]), name=name, message=report.message, hardware_id=hardware_id
    )
    status.values = [KeyValue(key=k, value=v) for k, v in report.values]
    return DiagnosticArray(header=header, status=[status])
