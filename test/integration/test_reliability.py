"""Run-time faults, health reports and shutdown, with the nodes as real processes over real DDS."""

from __future__ import annotations

import os
from pathlib import Path
import re
import signal
import time

import cv2
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from glass_perception.core.dds import PROFILE
from glass_perception.core.synthetic import render_scene
from glass_perception.nodes.common import DIAGNOSTICS_QOS, IMAGE_QOS, RESULT_QOS
import pytest
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray

from .conftest import spin_until

pytestmark = pytest.mark.integration


class Health:
    """The latest /diagnostics status of each node, by node name, with its values as a dict."""

    def __init__(self, ros_node, namespace: str):
        self.prefix = f'glass_perception: /{namespace}/'
        self.latest: dict[str, tuple[int, str, dict, float]] = {}
        self.times: dict[str, list[float]] = {}
        ros_node.create_subscription(DiagnosticArray, '/diagnostics', self._on, DIAGNOSTICS_QOS)

    def _on(self, msg: DiagnosticArray) -> None:
        for st in msg.status:
            if st.name.startswith(self.prefix):
                node = st.name[len(self.prefix):]
                self.latest[node] = (
                    st.level[0],
                    st.message,
                    {kv.key: kv.value for kv in st.values},
                    time.monotonic(),
                )
                self.times.setdefault(node, []).append(time.monotonic())

    def level(self, node: str) -> int | None:
        return self.latest[node][0] if node in self.latest else None

    def value(self, node: str, key: str, default=None):
        return self.latest[node][2].get(key, default) if node in self.latest else default

    def count(self, node: str, key: str) -> int:
        return int(self.value(node, key, 0))


def test_diagnostics_report_counts_latency_and_a_stalled_input(start_node, ros_node):
    ns = 'diag'
    health = Health(ros_node, ns)
    camera = start_node('camera_node', {'fps': 15.0}, namespace=f'/{ns}')
    detector = start_node('detector_node', {'stale_after_s': 1.5}, namespace=f'/{ns}')
    classifier = start_node('classifier_node', namespace=f'/{ns}')
    nodes = (camera, detector, classifier)

    def logs():
        return '\n'.join(f'--- {n.name}\n{n.output()[-1500:]}' for n in nodes)

    assert spin_until(ros_node, lambda: health.count('classifier_node', 'processed') >= 10, 150), (
        logs()
    )
    assert spin_until(ros_node, lambda: len(health.times.get('detector_node', [])) >= 4, 10), (
        logs()
    )
    names = ('camera_node', 'detector_node', 'classifier_node')
    # each node's /diagnostics publisher is matched on its own: wait until all three reported
    assert spin_until(ros_node, lambda: all(n in health.latest for n in names), 15), (
        sorted(health.latest),
        logs(),
    )
    for node in names:
        level, message, values, _ = health.latest[node]
        assert level in (DiagnosticStatus.OK[0], DiagnosticStatus.WARN[0]), (node, message)
        for key in (
            'received',
            'processed',
            'processing_ms_p95',
            'latency_ms_p95',
            'processed_hz',
        ):
            assert key in values, (node, values)
    for key in ('dropped', 'crops_sent'):
        assert key in health.latest['detector_node'][2]
    assert 'unpaired_evicted' in health.latest['classifier_node'][2]
    # latency grows along the chain: the classifier's output is older than the detector's
    assert float(health.value('classifier_node', 'latency_ms_p50')) > 0
    times = health.times['detector_node'][-4:]
    gaps = [b - a for a, b in zip(times, times[1:])]
    # once a second: one report delivered late here shortens the next gap as much as it
    # lengthens its own, so the three gaps together span about three seconds
    assert all(0.2 < g < 2.0 for g in gaps), f'reports should come once a second: {gaps}'
    assert 2.4 < times[-1] - times[0] < 3.9, f'reports should come once a second: {gaps}'

    # the camera goes away: the detector says so within stale_after_s, and its counts add up
    assert camera.stop(signal.SIGINT) == 0
    assert spin_until(
        ros_node,
        lambda: (
            health.level('detector_node') == DiagnosticStatus.WARN[0]
            and 'no input' in health.latest['detector_node'][1]
        ),
        10,
    ), health.latest.get('detector_node')
    received = health.count('detector_node', 'received')
    done = (
        health.count('detector_node', 'processed')
        + health.count('detector_node', 'dropped')
        + health.count('detector_node', 'rejected')
    )
    assert received == done > 0, health.latest['detector_node']


def test_camera_source_vanishes_and_returns(start_node, ros_node, tmp_path):
    ns = 'flaky'
    frames = tmp_path / 'frames'
    frames.mkdir()
    for i in range(3):
        cv2.imwrite(str(frames / f'{i}.png'), render_scene(3, i, 160, 120).image)
    health = Health(ros_node, ns)
    images = []
    ros_node.create_subscription(
        Image, f'/{ns}/camera/image_raw', lambda m: images.append(time.monotonic()), IMAGE_QOS
    )
    camera = start_node(
        'camera_node',
        {
            'source': str(frames),
            'fps': 10.0,
            'width': 160,
            'height': 120,
            'retry_initial_s': 0.2,
            'retry_max_s': 1.0,
        },
        namespace=f'/{ns}',
    )
    assert spin_until(ros_node, lambda: len(images) >= 5, 60), camera.output()

    gone = tmp_path / 'elsewhere'
    frames.rename(gone)  # the camera is unplugged
    assert spin_until(
        ros_node, lambda: health.level('camera_node') == DiagnosticStatus.ERROR[0], 10
    ), (health.latest.get('camera_node'), camera.output()[-2000:])
    assert 'source lost' in health.latest['camera_node'][1]
    time.sleep(1.5)
    spin_until(ros_node, lambda: False, 0.5)
    before = len(images)
    spin_until(ros_node, lambda: False, 1.5)
    assert len(images) == before, 'frames kept coming from a source that is gone'
    assert camera.alive()

    gone.rename(frames)  # and plugged back in
    assert spin_until(ros_node, lambda: len(images) >= before + 5, 20), camera.output()[-2000:]
    assert spin_until(
        ros_node,
        lambda: (
            health.level('camera_node') == DiagnosticStatus.OK[0]
            and health.count('camera_node', 'reconnects') >= 1
        ),
        10,
    ), health.latest.get('camera_node')
    out = camera.output()
    assert 'reopening' in out and 'retrying in' in out, out[-2000:]
    assert 'Traceback' not in out
    assert camera.stop() == 0


def test_a_killed_node_is_restarted_and_the_pipeline_resumes(start_node, ros_node):
    ns = 'restart'
    health = Health(ros_node, ns)
    classes, detections = [], []
    ros_node.create_subscription(
        Detection2DArray, f'/{ns}/glass/classifications', classes.append, RESULT_QOS
    )
    ros_node.create_subscription(
        Detection2DArray, f'/{ns}/glass/detections', detections.append, RESULT_QOS
    )
    camera = start_node('camera_node', {'fps': 5.0}, namespace=f'/{ns}')
    detector = start_node('detector_node', namespace=f'/{ns}')
    classifier = start_node('classifier_node', {'stale_after_s': 1.0}, namespace=f'/{ns}')
    assert spin_until(ros_node, lambda: len(classes) >= 3, 150), classifier.output()[-2000:]
    # our /diagnostics subscription matches the nodes' publishers one by one: hear all three first
    assert spin_until(
        ros_node,
        lambda: {'camera_node', 'detector_node', 'classifier_node'} <= set(health.latest),
        30,
    ), sorted(health.latest)

    detector.proc.kill()  # the detector dies hard
    detector.proc.wait(10)
    t_kill = time.monotonic()
    n_classes = len(classes)
    assert spin_until(
        ros_node,
        lambda: (
            health.level('classifier_node') == DiagnosticStatus.WARN[0]
            and 'no input' in health.latest['classifier_node'][1]
        ),
        10,
    ), health.latest.get('classifier_node')
    assert camera.alive() and classifier.alive(), 'the others must keep running'
    # the camera reports once a second; the classifier's WARN can come first
    assert spin_until(ros_node, lambda: health.latest['camera_node'][3] > t_kill, 5), (
        'the camera must keep reporting'
    )
    assert len(classes) <= n_classes + 1

    start_node('detector_node', namespace=f'/{ns}')  # and comes back
    assert spin_until(ros_node, lambda: len(classes) >= n_classes + 3, 150), classifier.output()[
        -2000:
    ]
    assert camera.alive() and classifier.alive()
    assert 'Traceback' not in classifier.output() + camera.output()


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM])
def test_every_node_stops_within_two_seconds_while_busy(start_node, ros_node, sig):
    ns = f'stop{int(sig)}'
    debug = []
    ros_node.create_subscription(
        Image, f'/{ns}/glass/debug_image', debug.append, IMAGE_QOS
    )  # overlay draws
    nodes = [
        start_node('camera_node', {'fps': 30.0}, namespace=f'/{ns}'),
        start_node('detector_node', namespace=f'/{ns}'),
        start_node('classifier_node', namespace=f'/{ns}'),
        start_node('overlay_node', namespace=f'/{ns}'),
    ]
    assert spin_until(ros_node, lambda: len(debug) >= 3, 150), '\n'.join(
        n.output()[-1000:] for n in nodes
    )
    segments = {n.name: _shm_segments(n.proc.pid) for n in nodes}
    if os.environ.get('FASTDDS_DEFAULT_PROFILES_FILE', '').endswith(PROFILE):
        # the shipped profile's shared-memory transport: each participant owns a segment
        assert all(segments.values()), segments
    t0 = time.monotonic()
    for n in nodes:
        n.proc.send_signal(sig)
    for n in nodes:
        try:
            n.proc.wait(max(0.0, t0 + 2.0 - time.monotonic()))
        except Exception:
            pytest.fail(f'{n.name} still running 2 s after {sig.name}\n{n.output()[-1500:]}')
        assert n.proc.returncode == 0, f'{n.name} exited {n.proc.returncode}\n{n.output()[-1500:]}'
        assert 'Traceback' not in n.output(), n.output()[-2000:]
        # a clean exit removes its segment: every leaked one held 16 MB of /dev/shm (RAM)
        left = [str(f) for f in segments[n.name] if f.exists()]
        assert not left, f'{n.name} left its Fast DDS shared memory behind: {left}'


def _shm_segments(pid: int) -> list[Path]:
    """Return the Fast DDS shared-memory segments a process owns (it flocks each one's _el)."""
    lock_files = {}
    for f in Path('/dev/shm').glob('fastdds_*_el'):
        try:
            if re.fullmatch(r'fastdds_[0-9a-f]{16}_el', f.name):
                lock_files[f.stat().st_ino] = f
        except FileNotFoundError:  # another process's segment, just removed
            continue
    owned = []
    for line in Path('/proc/locks').read_text().splitlines():
        # '12: FLOCK  ADVISORY  WRITE 9664 00:1b:229718 0 EOF'
        f = line.split()
        if len(f) >= 6 and f[1] == 'FLOCK' and f[4] == str(pid):
            lock = lock_files.get(int(f[5].rsplit(':', 1)[-1]))
            if lock is not None:
                owned.append(lock.with_name(lock.name[: -len('_el')]))
    return owned


def test_a_camera_that_does_not_exist_stops_the_node_within_seconds(start_node):
    device = next(f'/dev/video{i}' for i in range(90, 100) if not os.path.exists(f'/dev/video{i}'))
    t0 = time.monotonic()
    camera = start_node('camera_node', {'source': device, 'open_timeout_s': 1.0})
    camera.proc.wait(60)
    out = camera.output()
    assert camera.proc.returncode != 0
    assert device in out and 'open_timeout_s' in out, out
    assert 'Traceback' not in out, out
    assert time.monotonic() - t0 < 30
