"""glass-pipeline, the documented way to run the pipeline without `ros2 launch`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import cv2
import pytest

from .conftest import PARAMS

pytestmark = pytest.mark.integration


def test_runner_prints_classifications_saves_frames_and_reports(tmp_path):
    out = tmp_path / 'demo'
    proc = subprocess.run(
        [
            sys.executable,
            '-m',
            'glass_perception.tools.pipeline',
            '--params',
            str(PARAMS),
            '--frames',
            '30',
            '--warmup',
            '2',
            '--save-dir',
            str(out),
            '--save-every',
            '1',
            '--report',
            str(tmp_path / 'r.json'),
            '--namespace',
            'runner',
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert 'object(s)' in proc.stdout and 'glass-pipeline summary' in proc.stdout
    report = json.loads((tmp_path / 'r.json').read_text())
    assert report['classified_frames'] >= 32
    assert report['node_exit_codes'] == dict.fromkeys(
        ('camera_node', 'detector_node', 'classifier_node', 'overlay_node', 'localizer_node'), 0
    )
    assert report['glasses_3d']['frames'] > 0 and report['glasses_3d']['all']['localised'] > 0
    assert report['latency_ms']['p50'] > 0
    # the CPU each process used while measuring: the detector works on every processed frame
    assert set(report['cpu']) == set(report['node_exit_codes']) | {'monitor'}
    assert 0 < report['cpu']['detector_node']['cores'] <= os.cpu_count() + 0.1
    e2e = report['end_to_end']
    assert e2e['glasses'] > 0, "no classification matched a camera frame's ground truth by stamp"
    frames = report['annotated_frames']
    assert frames, 'no annotated frames saved'
    img = cv2.imread(frames[0])
    assert img is not None and img.shape == (480, 640, 3)
    for name in ('camera_node', 'detector_node', 'classifier_node', 'overlay_node'):
        log = (out / 'logs' / f'{name}.log').read_text()
        assert 'Traceback' not in log, log
        assert '/runner/' in log or 'runner.' in log, (
            f'{name} did not run in the namespace: {log[-500:]}'
        )
