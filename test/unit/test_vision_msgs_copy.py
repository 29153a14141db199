"""
interfaces/vision_msgs is vision_msgs 4.1.1 field for field, so its type hashes match a robot's.

The RIHS01 type hash that decides whether two nodes can talk is computed from the package,
message, field names, field types and their order. Comments do not count.
"""

from pathlib import Path
import re

import pytest

MSG_DIR = Path(__file__).resolve().parents[2] / 'interfaces' / 'vision_msgs' / 'msg'

# vision_msgs 4.1.1 (Humble, Jazzy, Kilted), read from the tag's msg/ folder: all 16 messages.
OFFICIAL = {
    'Point2D': [('float64', 'x'), ('float64', 'y')],
    'Pose2D': [('Point2D', 'position'), ('float64', 'theta')],
    'BoundingBox2D': [('Pose2D', 'center'), ('float64', 'size_x'), ('float64', 'size_y')],
    'ObjectHypothesis': [('string', 'class_id'), ('float64', 'score')],
    'ObjectHypothesisWithPose': [
        ('ObjectHypothesis', 'hypothesis'),
        ('geometry_msgs/PoseWithCovariance', 'pose'),
    ],
    'Detection2D': [
        ('std_msgs/Header', 'header'),
        ('ObjectHypothesisWithPose[]', 'results'),
        ('BoundingBox2D', 'bbox'),
        ('string', 'id'),
    ],
    'Detection2DArray': [('std_msgs/Header', 'header'), ('Detection2D[]', 'detections')],
    'Classification': [('std_msgs/Header', 'header'), ('ObjectHypothesis[]', 'results')],
    'VisionClass': [('uint16', 'class_id'), ('string', 'class_name')],
    'LabelInfo': [
        ('std_msgs/Header', 'header'),
        ('VisionClass[]', 'class_map'),
        ('float32', 'threshold'),
    ],
    'BoundingBox2DArray': [('std_msgs/Header', 'header'), ('BoundingBox2D[]', 'boxes')],
    'BoundingBox3D': [('geometry_msgs/Pose', 'center'), ('geometry_msgs/Vector3', 'size')],
    'BoundingBox3DArray': [('std_msgs/Header', 'header'), ('BoundingBox3D[]', 'boxes')],
    'Detection3D': [
        ('std_msgs/Header', 'header'),
        ('ObjectHypothesisWithPose[]', 'results'),
        ('BoundingBox3D', 'bbox'),
        ('string', 'id'),
    ],
    'Detection3DArray': [('std_msgs/Header', 'header'), ('Detection3D[]', 'detections')],
    'VisionInfo': [
        ('std_msgs/Header', 'header'),
        ('string', 'method'),
        ('string', 'database_location'),
        ('int32', 'database_version'),
    ],
}


def fields(path: Path) -> list[tuple[str, str]]:
    """Return (type, name) of each field of a .msg file, in order; own types unprefixed."""
    out = []
    for line in path.read_text().splitlines():
        line = line.split('#', 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r'(\S+)\s+(\w+)', line)
        # a constant or a default value would not parse: vision_msgs 4.1.1 has neither
        assert m, f'{path.name}: {line!r} is not a plain field'
        out.append((m.group(1).removeprefix('vision_msgs/'), m.group(2)))
    return out


def test_the_copy_has_exactly_the_16_messages_of_4_1_1():
    assert sorted(p.stem for p in MSG_DIR.glob('*.msg')) == sorted(OFFICIAL)


@pytest.mark.parametrize('name', sorted(OFFICIAL))
def test_fields_match_4_1_1_in_name_type_and_order(name):
    assert fields(MSG_DIR / f'{name}.msg') == OFFICIAL[name]


def test_a_swapped_field_order_is_caught(tmp_path):
    swapped = tmp_path / 'VisionInfo.msg'
    swapped.write_text(
        'std_msgs/Header header\nstring method\nint64 database_version\nstring database_location\n'
    )
    assert fields(swapped) != OFFICIAL['VisionInfo']


def test_the_built_messages_have_the_copy_s_fields():
    """What `import vision_msgs` gives here was built from this copy (scripts/setup)."""
    from vision_msgs.msg import VisionInfo

    assert VisionInfo.get_fields_and_field_types() == {
        'header': 'std_msgs/Header',
        'method': 'string',
        'database_location': 'string',
        'database_version': 'int32',
    }
