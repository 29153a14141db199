"""glass_perception.core.messages and the vision_msgs definitions it relies on."""

from __future__ import annotations

import math

from glass_perception.core.geometry import Box
from glass_perception.core.messages import (
    best_hypothesis,
    box_of,
    copy_header,
    detection,
    detection_array,
    format_detections,
    label_info,
    stamp_key,
    stamp_seconds,
)
import pytest
from std_msgs.msg import Header
from vision_msgs import msg as vm

FIELDS = {
    'Point2D': [('x', 'double'), ('y', 'double')],
    'Pose2D': [('position', 'vision_msgs/Point2D'), ('theta', 'double')],
    'BoundingBox2D': [
        ('center', 'vision_msgs/Pose2D'),
        ('size_x', 'double'),
        ('size_y', 'double'),
    ],
    'ObjectHypothesis': [('class_id', 'string'), ('score', 'double')],
    'ObjectHypothesisWithPose': [
        ('hypothesis', 'vision_msgs/ObjectHypothesis'),
        ('pose', 'geometry_msgs/PoseWithCovariance'),
    ],
    'Detection2D': [
        ('header', 'std_msgs/Header'),
        ('results', 'sequence<vision_msgs/ObjectHypothesisWithPose>'),
        ('bbox', 'vision_msgs/BoundingBox2D'),
        ('id', 'string'),
    ],
    'Detection2DArray': [
        ('header', 'std_msgs/Header'),
        ('detections', 'sequence<vision_msgs/Detection2D>'),
    ],
    'Classification': [
        ('header', 'std_msgs/Header'),
        ('results', 'sequence<vision_msgs/ObjectHypothesis>'),
    ],
    'VisionClass': [('class_id', 'uint16'), ('class_name', 'string')],
    'LabelInfo': [
        ('header', 'std_msgs/Header'),
        ('class_map', 'sequence<vision_msgs/VisionClass>'),
        ('threshold', 'float'),
    ],
}


@pytest.mark.parametrize('name', sorted(FIELDS))
def test_vision_msgs_fields(name):
    assert list(getattr(vm, name).get_fields_and_field_types().items()) == FIELDS[name]


def header(sec=12, nanosec=345, frame_id='camera_optical_frame') -> Header:
    h = Header()
    h.stamp.sec, h.stamp.nanosec, h.frame_id = sec, nanosec, frame_id
    return h


def test_copy_header_is_a_separate_message():
    src = header()
    out = copy_header(src)
    assert (out.stamp.sec, out.stamp.nanosec, out.frame_id) == (12, 345, 'camera_optical_frame')
    src.stamp.sec, src.frame_id = 99, 'other'
    assert (out.stamp.sec, out.frame_id) == (12, 'camera_optical_frame')


def test_stamp_key_and_seconds():
    h = header(3, 500_000_000)
    assert stamp_key(h) == (3, 500_000_000)
    assert stamp_seconds(h) == pytest.approx(3.5)


def test_detection_copies_header_box_results_and_id():
    src = header()
    d = detection(
        src,
        Box(100.5, 60.0, 40.0, 80.0),
        [('cup', 0.2), ('beer_glass', 0.7), ('soju_glass', 0.1)],
        '7',
    )
    assert isinstance(d, vm.Detection2D)
    assert (d.header.stamp.sec, d.header.stamp.nanosec, d.header.frame_id) == (
        12,
        345,
        'camera_optical_frame',
    )
    assert d.header is not src
    b = d.bbox
    assert (b.center.position.x, b.center.position.y, b.center.theta, b.size_x, b.size_y) == (
        100.5,
        60.0,
        0.0,
        40.0,
        80.0,
    )
    assert [(r.hypothesis.class_id, r.hypothesis.score) for r in d.results] == [
        ('cup', 0.2),
        ('beer_glass', 0.7),
        ('soju_glass', 0.1),
    ]  # order kept, not re-sorted
    assert d.id == '7'
    assert box_of(d) == Box(100.5, 60.0, 40.0, 80.0)
    assert best_hypothesis(d) == ('beer_glass', 0.7)


def test_detection_without_results():
    d = detection(header(), Box(1, 1, 2, 2), [])
    assert len(d.results) == 0 and d.id == ''
    name, score = best_hypothesis(d)
    assert name == '' and math.isnan(score)


@pytest.mark.parametrize(
    'cx, cy, w, h',
    [
        (math.nan, 1, 2, 2),
        (1, math.inf, 2, 2),
        (1, 1, -2, 2),
        (1, 1, 2, -0.5),
        (1, 1, 0, 2),
        (1, 1, 2, math.nan),
    ],
)
def test_box_of_rejects_invalid_boxes(cx, cy, w, h):
    d = vm.Detection2D()
    d.bbox.center.position.x, d.bbox.center.position.y = float(cx), float(cy)
    d.bbox.size_x, d.bbox.size_y = float(w), float(h)
    with pytest.raises(ValueError, match='invalid box'):
        box_of(d)


def test_detection_array_and_label_info():
    dets = [detection(header(), Box(10, 10, 4, 4), [('cup', 0.9)], str(i)) for i in range(2)]
    arr = detection_array(header(5, 6, 'f'), dets)
    assert (arr.header.stamp.sec, arr.header.stamp.nanosec, arr.header.frame_id) == (5, 6, 'f')
    assert [d.id for d in arr.detections] == ['0', '1']
    info = label_info(header(), ['cup', 'beer_glass', 'soju_glass'], 0.3)
    assert [(c.class_id, c.class_name) for c in info.class_map] == [
        (0, 'cup'),
        (1, 'beer_glass'),
        (2, 'soju_glass'),
    ]
    assert info.threshold == pytest.approx(0.3)


def test_format_detections_names_classes_and_scores():
    dets = [
        detection(
            header(),
            Box(120, 80, 30, 60),
            [('cup', 0.15), ('beer_glass', 0.75), ('soju_glass', 0.10)],
            '1',
        ),
        detection(header(), Box(300, 200, 10, 10), [], ''),
    ]
    text = format_detections(detection_array(header(12, 345), dets), title='detections: ')
    lines = text.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("detections: stamp 12.000000345 frame 'camera_optical_frame'")
    assert '2 object(s)' in lines[0]
    assert '[1] beer_glass 0.75' in lines[1]
    assert 'cup 0.15' in lines[1] and 'soju_glass 0.10' in lines[1]
    assert lines[1].index('cup 0.15') < lines[1].index('soju_glass 0.10')  # the rest, best first
    assert 'box centre (120, 80) size 30x60' in lines[1]
    assert '[-] (no hypotheses)' in lines[2]


def test_format_empty_array():
    assert (
        format_detections(detection_array(header(1, 2, 'x'), []))
        == "stamp 1.000000002 frame 'x': 0 object(s)"
    )
