"""Bags through the pipeline: real RGB-D frames as a realsense2_camera bag, recorded, replayed."""

from __future__ import annotations

import json
from pathlib import Path
import subprocess
import sys

from glass_perception.core import bags
import pytest

from .conftest import PARAMS

pytestmark = pytest.mark.integration

REAL = Path(__file__).resolve().parents[3] / 'shared' / 'real'


def run(*args, timeout=600):
    proc = subprocess.run(
        [sys.executable, '-m', *args], capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def pipeline(tmp_path, source: str, frames: int, record: Path, namespace: str) -> dict:
    report = tmp_path / f'{namespace}.json'
    run(
        'glass_perception.tools.pipeline', '--params', str(PARAMS), '--source', source,
        '--frames', str(frames), '--warmup', '2', '--quiet', '--record', str(record),
        '--report', str(report), '--namespace', namespace,
    )  # fmt: skip
    return json.loads(report.read_text())


def by_stamp(path: Path, topic_end: str) -> dict:
    """Return {stamp: message} of the bag's topic ending in ``topic_end``."""
    reader = bags.open_reader(path)
    try:
        conns = [c for c in reader.connections if c.topic.endswith(topic_end)]
        assert conns, f'{path} has no {topic_end}'
        out = {}
        for conn, _, raw in reader.messages(connections=conns):
            msg = reader.deserialize(raw, conn.msgtype)
            out[bags.stamp_ns(msg)] = msg
        return out
    finally:
        reader.close()


def labels(msg) -> list:
    """Return a frame's (class, box centre) list: track ids depend on where a run started."""
    return sorted(
        (d.results[0].hypothesis.class_id, round(d.bbox.center.position.x),
         round(d.bbox.center.position.y))
        for d in msg.detections
    )  # fmt: skip


@pytest.mark.skipif(not (REAL / 'cleargrasp_glasses').is_dir(), reason=f'{REAL} is not here')
def test_real_frames_in_a_bag_play_through_every_node_and_the_recording_plays_again(tmp_path):
    # the labelled real RealSense frames, as realsense2_camera would have recorded them
    run('glass_perception.tools.import_rgbd', '--out', str(tmp_path / 'real'), '--labelled')
    bag = tmp_path / 'glasses.mcap'
    run(
        'glass_perception.tools.bag', 'from-rgbd', str(tmp_path / 'real' / 'cleargrasp_glasses'),
        '--out', str(bag), '--fps', '2', '--repeat', '4',
    )  # fmt: skip
    first = tmp_path / 'first.mcap'
    report = pipeline(tmp_path, f'bag:{bag}', 10, first, 'bagplay')
    assert report['node_exit_codes'] == dict.fromkeys(
        ('camera_node', 'detector_node', 'classifier_node', 'overlay_node', 'localizer_node'), 0
    )
    published = by_stamp(first, '/camera/image_raw')
    classified = by_stamp(first, '/glass/classifications')
    located = by_stamp(first, '/glass/detections_3d')
    recorded = by_stamp(bag, bags.REALSENSE_COLOUR)
    assert len(published) >= 12
    assert set(published) <= set(recorded)  # the bag's own stamps, as recorded
    assert set(classified) == set(published), 'a frame the camera sent was not classified'
    assert set(located) == set(published), 'a classified frame got no 3D message'
    assert any(m.detections for m in classified.values())
    for stamp, msg in located.items():
        assert msg.header.frame_id == 'camera_color_optical_frame'
        assert len(msg.detections) == len(classified[stamp].detections)

    # the round trip: the recording plays in bag: (its own camera topics) to the same outputs
    second = tmp_path / 'second.mcap'
    pipeline(tmp_path, f'bag:{first}', 8, second, 'replay')
    again = by_stamp(second, '/glass/classifications')
    assert len(again) >= 10 and set(again) <= set(classified)
    assert all(labels(again[s]) == labels(classified[s]) for s in again)
