"""
glass-pipeline: start the four nodes from a params file, as `ros2 launch` would, and watch them.

For machines without the `ros2` command (no ROS distro). Each node runs in its own process with
the same executable, params file, namespace and overrides as launch/pipeline.launch.py gives it.
This process also subscribes to the results: it prints glass/classifications readably, saves
annotated frames from glass/debug_image, and at the end prints frames per second, latency from
camera stamp to classification, and (synthetic sources) how many of the scenes' glasses were
labelled correctly.

  glass-pipeline                                  # synthetic camera, until Ctrl-C
  glass-pipeline --frames 40 --save-dir demo_out  # stop after 40 classified frames
  glass-pipeline --source /dev/video0 --device cuda:0 --namespace left
"""

from __future__ import annotations

import argparse
from collections import OrderedDict
import json
import os
from pathlib import Path
import signal
import statistics
import subprocess
import sys
import time

NODES = ('camera_node', 'detector_node', 'classifier_node', 'overlay_node', 'localizer_node')


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='glass-pipeline',
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        '--params', type=Path, help="params YAML (default: the package's config/params.yaml)"
    )
    p.add_argument('--source', help='camera source, overrides the params file')
    p.add_argument('--device', help='cpu, cuda or cuda:N for both models')
    p.add_argument('--detector-model', help='YOLO weights path or name')
    p.add_argument('--classifier-model', help='classifier checkpoint path')
    p.add_argument('--fps', type=float, help='camera frames per second')
    p.add_argument('--namespace', default='', help='namespace of all nodes and topics')
    p.add_argument(
        '--no-localizer', action='store_true', help='do not start localizer_node (2D only)'
    )
    p.add_argument(
        '--no-camera',
        action='store_true',
        help='do not start camera_node: the camera runs elsewhere (another machine, a driver) '
        'and publishes on its own; the figures count what reaches this machine',
    )
    p.add_argument(
        '--compressed',
        action='store_true',
        help="camera images over the DDS hop as image_transport's compressed companions (JPEG "
        'colour, PNG depth): the camera publishes them, detector, overlay and localizer read '
        'them; for a camera on another machine (with --no-camera, set publish_compressed there)',
    )
    p.add_argument(
        '--bandwidth',
        action='store_true',
        help='also measure what arrives here per topic (messages/s, MB/s): the camera, depth, '
        'camera_info, classifications and 3D topics',
    )
    p.add_argument(
        '--frames', type=int, default=0, help='stop after this many classified frames (0: run on)'
    )
    p.add_argument(
        '--duration',
        type=float,
        default=0.0,
        help='stop this many seconds after the first measured classification (0: run on)',
    )
    p.add_argument(
        '--warmup', type=int, default=3, help='classified frames left out of the figures'
    )
    p.add_argument('--save-dir', type=Path, help='write annotated frames (and node logs) here')
    p.add_argument('--save-every', type=int, default=5, help='save every Nth annotated frame')
    p.add_argument('--save-max', type=int, default=10, help='at most this many annotated frames')
    p.add_argument('--report', type=Path, help='write the final figures as JSON here')
    p.add_argument(
        '--foxglove',
        nargs='?',
        type=int,
        const=8765,
        metavar='PORT',
        help='also serve the debug image, the 3D glasses and /diagnostics to Foxglove over '
        'WebSocket (foxglove_node), on PORT (default 8765): Open connection, ws://HOST:PORT',
    )
    p.add_argument(
        '--record',
        type=Path,
        metavar='BAG',
        help="record the camera's topics and every output into a ROS 2 bag: FILE.mcap (one MCAP "
        'file, what Foxglove opens) or a rosbag2 folder; played by ros2 bag play and source bag:',
    )
    p.add_argument('--quiet', action='store_true', help='do not print each classification')
    p.add_argument(
        '--baseline-frames',
        type=int,
        default=0,
        help='first time the bare models in this process on this many synthetic frames, '
        "to compare the pipeline's latency with",
    )
    p.add_argument(
        '--start-timeout',
        type=float,
        default=180.0,
        help='seconds to wait for the first classification before giving up',
    )
    p.add_argument(
        '--memory-warmup',
        type=float,
        default=10.0,
        help="seconds after the first measured frame at which each node's resident memory is "
        'taken as its start value (models and caches settle first)',
    )
    return p


def rss_mb(pid: int) -> float | None:
    """Resident memory of a process in MiB (Linux /proc), None once it is gone."""
    try:
        for line in Path(f'/proc/{pid}/status').read_text().splitlines():
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024.0
    except (OSError, ValueError):
        return None
    return None


class MemoryLog:
    """Each node's resident memory: its value after warm-up, at the end, and the largest seen."""

    def __init__(self, warmup_s: float):
        self.warmup_s = warmup_s
        self.start: dict[str, float] = {}
        self.end: dict[str, float] = {}
        self.peak: dict[str, float] = {}

    def sample(self, procs: dict, measuring_since: float | None) -> None:
        """``measuring_since``: wall-clock time of the first measured frame (None: not yet)."""
        settled = measuring_since is not None and time.time() - measuring_since >= self.warmup_s
        for name, p in procs.items():
            mb = rss_mb(p.pid)
            if mb is None:
                continue
            if settled and name not in self.start:
                self.start[name] = mb
            self.end[name] = mb
            self.peak[name] = max(mb, self.peak.get(name, 0.0))

    def report(self) -> dict:
        out = {}
        for name, end in self.end.items():
            start = self.start.get(name)
            out[name] = {
                'start_mb': start,
                'end_mb': end,
                'peak_mb': self.peak[name],
                'growth_pct': 100.0 * (end - start) / start if start else None,
            }
        return out


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of a process in seconds (Linux /proc), None once it is gone."""
    try:
        # the fields after the command name: state is the first, utime the 12th, stime the 13th
        fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
    except (OSError, ValueError, IndexError):
        return None


class CpuLog:
    """
    The CPU each process used over the measured seconds, in cores (1.0 = one core busy).

    Where a pipeline shares a few cores, this says how much of them the models got and how much
    went to the camera, the DDS hops, the other nodes and this monitor.
    """

    def __init__(self):
        self.start: dict[str, tuple[float, float]] = {}
        self.end: dict[str, tuple[float, float]] = {}

    def sample(self, procs: dict, measuring_since: float | None) -> None:
        if measuring_since is None:
            return
        now = time.monotonic()
        used = {name: cpu_seconds(p.pid) for name, p in procs.items()}
        own = os.times()
        used['monitor'] = own.user + own.system
        for name, cpu in used.items():
            if cpu is None:
                continue
            self.start.setdefault(name, (now, cpu))
            self.end[name] = (now, cpu)

    def report(self) -> dict:
        out = {}
        for name, (t1, c1) in self.end.items():
            t0, c0 = self.start[name]
            if t1 - t0 >= 1.0:
                out[name] = {'cores': (c1 - c0) / (t1 - t0), 'seconds': t1 - t0}
        return out


def node_command(name: str, params: Path, namespace: str, overrides: dict) -> list[str]:
    cmd = [
        sys.executable,
        '-m',
        f'glass_perception.nodes.{name}',
        '--ros-args',
        '--params-file',
        str(params),
        '-r',
        f'__node:={name}',
    ]
    if namespace:
        cmd += ['-r', f'__ns:=/{namespace.strip("/")}']
    for key, value in overrides.items():
        if isinstance(value, bool):
            value = 'true' if value else 'false'
        elif isinstance(value, str):  # quoted: '0' stays the string "0", not the integer 0
            value = "'" + value.replace("'", "''") + "'"
        cmd += ['-p', f'{key}:={value}']
    return cmd


def pipeline_env() -> dict:
    from ..core.dds import image_transport_env
    from ..core.paths import share_dir

    env = dict(os.environ)
    # Fast DDS's default transports lose camera-sized best-effort images between processes; see
    # docs/troubleshooting.md.
    env.update(image_transport_env(env, share_dir() / 'config'))
    env.setdefault('PYTHONUNBUFFERED', '1')
    return env


def started_nodes(args) -> tuple[str, ...]:
    """Return the nodes this run starts: NODES, less the localizer, plus the Foxglove bridge."""
    nodes = tuple(
        n
        for n in NODES
        if not (n == 'localizer_node' and args.no_localizer)
        and not (n == 'camera_node' and getattr(args, 'no_camera', False))
    )
    return nodes + (('foxglove_node',) if getattr(args, 'foxglove', None) else ())


def overrides_from(args) -> dict:
    o = {name: {} for name in (*NODES, 'foxglove_node')}
    o['camera_node']['enabled'] = False  # Monitor.start_camera_when_ready enables it
    if getattr(args, 'foxglove', None):
        o['foxglove_node']['port'] = int(args.foxglove)
    if getattr(args, 'compressed', False):
        o['camera_node']['publish_compressed'] = True
        for name in ('detector_node', 'overlay_node', 'localizer_node'):
            o[name]['image_transport'] = 'compressed'
    if args.source:
        o['camera_node']['source'] = args.source
    if args.fps:
        o['camera_node']['fps'] = float(args.fps)
    if args.device:
        o['detector_node']['device'] = o['classifier_node']['device'] = args.device
    if args.detector_model:
        o['detector_node']['model'] = args.detector_model
    if args.classifier_model:
        o['classifier_node']['model'] = args.classifier_model
    return o


# The nodes whose start-up (loading a model) the camera waits for.
MODEL_NODES = ('detector_node', 'classifier_node')
# Seconds the camera still waits once every input has a reader in the graph (matching follows)
READERS_SETTLE_S = 1.0
# Per-stage figures each node reports once a period; the runner keeps the median over the
# measured periods (a period's p95 is that period's, so the median says what a typical second saw).
STAGE_KEYS = ('processing_ms_p50', 'processing_ms_p95', 'latency_ms_p50', 'latency_ms_p95')


class Monitor:
    """The runner's own node: prints, scores and saves what the pipeline publishes."""

    def __init__(self, args):
        import rclpy
        from sensor_msgs.msg import Image
        from vision_msgs.msg import Detection2DArray

        from ..nodes.common import IMAGE_QOS, RESULT_QOS

        self.args = args
        self.node = rclpy.create_node('glass_pipeline_monitor', namespace=args.namespace or None)
        self.truth: OrderedDict = OrderedDict()
        self.truth_2d_kept: OrderedDict = OrderedDict()
        self.latencies: list[float] = []
        self.classified = 0
        self.measured = 0
        self.classified_stamps: list[tuple[int, int]] = []  # every classified frame's stamp
        self.located_stamps: set[tuple[int, int]] = set()  # those of the 3D messages
        self.first_time = None
        self.last_time = None
        self.debug_seen = 0
        self.saved: list[Path] = []
        from ..workflow.scoring import Tally

        self.tally = Tally()
        self.node.create_subscription(
            Detection2DArray, 'glass/classifications', self._on_classes, RESULT_QOS
        )
        # when each frame left the camera (its small camera_info): latency for recorded stamps
        from sensor_msgs.msg import CameraInfo

        self.published_at: OrderedDict = OrderedDict()
        self.node.create_subscription(
            CameraInfo, 'camera/camera_info', self._on_camera_info, IMAGE_QOS
        )
        self.node.create_subscription(
            Detection2DArray, 'camera/ground_truth', self._on_truth, RESULT_QOS
        )
        from vision_msgs.msg import Detection3DArray

        self.truth_3d: OrderedDict = OrderedDict()
        self.classes_by_stamp: OrderedDict = OrderedDict()
        self.scores_3d: list[tuple[str, float | None, str | None]] = []
        self.frames_3d = 0
        self.node.create_subscription(
            Detection3DArray, 'camera/ground_truth_3d', self._on_truth_3d, RESULT_QOS
        )
        self.node.create_subscription(
            Detection3DArray, 'glass/detections_3d', self._on_3d, RESULT_QOS
        )
        from diagnostic_msgs.msg import DiagnosticArray

        from ..nodes.common import DIAGNOSTICS_QOS

        self.health: dict[str, dict] = {}
        self.paused = False
        self.camera_started = False
        self._next_start_try = 0.0
        self._readers_since: float | None = None  # when every input of the camera had a reader
        self._camera_client = None
        self.stage_samples: dict[str, dict[str, list[float]]] = {}
        self.node.create_subscription(
            DiagnosticArray, '/diagnostics', self._on_health, DIAGNOSTICS_QOS
        )
        if args.save_dir:
            self.node.create_subscription(Image, 'glass/debug_image', self._on_debug, IMAGE_QOS)
        self.traffic: dict[str, list[int]] = {}  # topic -> [messages, bytes] while measuring
        if getattr(args, 'bandwidth', False):
            from sensor_msgs.msg import CameraInfo as Info
            from vision_msgs.msg import Detection3DArray as D3

            from ..nodes.common import image_input

            # what the models read: the raw images, or with --compressed their companions
            transport = 'compressed' if getattr(args, 'compressed', False) else 'raw'
            for msg_type, topic, qos in (
                (*image_input(transport), IMAGE_QOS),
                (*image_input(transport, depth=True), IMAGE_QOS),
                (Info, 'camera/camera_info', IMAGE_QOS),
                (Detection2DArray, 'glass/classifications', RESULT_QOS),
                (D3, 'glass/detections_3d', RESULT_QOS),
            ):
                sub = self.node.create_subscription(
                    msg_type, topic, self._counter(len(self.traffic)), qos, raw=True
                )
                self.traffic[sub.topic_name] = [0, 0]

    def _counter(self, index: int):
        def count(data: bytes) -> None:
            if self.first_time is not None and not self.paused:
                entry = list(self.traffic.values())[index]
                entry[0] += 1
                entry[1] += len(data)

        return count

    def _on_camera_info(self, msg) -> None:
        from ..core import messages

        self.published_at[messages.stamp_key(msg.header)] = time.time()
        while len(self.published_at) > 1000:
            self.published_at.popitem(last=False)

    def _on_health(self, msg) -> None:
        prefix = '/' + self.args.namespace.strip('/') if self.args.namespace.strip('/') else ''
        for st in msg.status:
            node = st.name.rsplit('/', 1)[-1]
            if (
                st.name.startswith('glass_perception: ')
                and st.name[len('glass_perception: '):].rsplit('/', 1)[0] == prefix
            ):
                values = {kv.key: kv.value for kv in st.values}
                self.health[node] = {'level': st.level[0], 'message': st.message, **values}
                if self.first_time is not None and not self.paused:
                    for key in STAGE_KEYS:
                        try:
                            value = float(values[key])
                        except (KeyError, ValueError):
                            continue
                        self.stage_samples.setdefault(node, {}).setdefault(key, []).append(value)

    def pause_camera(self, timeout: float = 5.0) -> bool:
        """Set the camera's ``enabled`` to false, so the last counts of every node add up."""
        self.paused = True  # the health reports from here on describe a draining pipeline
        if 'camera_node' not in started_nodes(self.args):
            return True  # not ours to pause: drain what is on its way
        return self._set_camera_enabled(False, timeout)

    def start_camera_when_ready(self) -> None:
        """
        Enable the camera (started paused) once the model nodes report, i.e. have loaded models.

        Frames published while the detector is still loading would reach nobody and read as lost.
        """
        wait_for = set(MODEL_NODES) | ({'localizer_node'} & set(started_nodes(self.args)))
        if self.camera_started or not wait_for <= self.health.keys():
            return
        if 'camera_node' not in started_nodes(self.args):  # a camera elsewhere runs on its own
            self.camera_started = True
            return
        # and once the readers of the camera's topics are in the graph: frames sent before a
        # reader matched would be lost to it (the localizer's first frames without depth)
        from ..nodes.common import image_input

        # each input read raw or compressed (--compressed, or image_transport in the params)
        roles = [(False, True)] + (
            [(True, True), (None, False)] if 'localizer_node' in started_nodes(self.args) else []
        )
        ns = self.args.namespace.strip('/')

        def readers(topic: str) -> int:
            return self.node.count_subscribers(f'/{ns}/{topic}' if ns else f'/{topic}')

        for depth, image in roles:
            topics = (
                [image_input(t, depth=depth)[1] for t in ('raw', 'compressed')]
                if image
                else ['camera/camera_info']
            )
            if sum(readers(t) for t in topics) < 1:
                self._readers_since = None
                return
        # seen here is not yet matched by the camera (it discovers them on its own): a second
        # more, or the localizer's first frames come without depth
        now = time.monotonic()
        if self._readers_since is None:
            self._readers_since = now
        if now - self._readers_since < READERS_SETTLE_S:
            return
        if time.monotonic() >= self._next_start_try:
            self._next_start_try = time.monotonic() + 1.0
            self.camera_started = self._set_camera_enabled(True, 2.0)

    def _set_camera_enabled(self, enabled: bool, timeout: float) -> bool:
        from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
        from rcl_interfaces.srv import SetParameters
        import rclpy

        if self._camera_client is None:
            self._camera_client = self.node.create_client(
                SetParameters, 'camera_node/set_parameters'
            )
        if not self._camera_client.wait_for_service(timeout_sec=timeout):
            return False
        value = ParameterValue(type=ParameterType.PARAMETER_BOOL, bool_value=enabled)
        future = self._camera_client.call_async(
            SetParameters.Request(parameters=[Parameter(name='enabled', value=value)])
        )
        end = time.monotonic() + timeout
        while not future.done() and time.monotonic() < end:
            rclpy.spin_once(self.node, timeout_sec=0.1)
        return future.done() and future.result().results[0].successful

    def _on_truth(self, msg) -> None:
        from ..core import messages

        self.truth[messages.stamp_key(msg.header)] = msg
        while len(self.truth) > 300:
            self.truth.popitem(last=False)

    def _on_truth_3d(self, msg) -> None:
        from ..core import messages

        self.truth_3d[messages.stamp_key(msg.header)] = msg
        while len(self.truth_3d) > 300:
            self.truth_3d.popitem(last=False)

    def _on_3d(self, msg) -> None:
        """Score the published 3D glasses against the scene's 3D truth (synthetic sources)."""
        from ..core import messages
        from ..core.synthetic import CLASSES
        from ..workflow.scoring import score_frame_3d

        key = messages.stamp_key(msg.header)
        self.frames_3d += 1
        self.located_stamps.add(key)
        truth2d, truth3d = self.truth_2d_kept.pop(key, None), self.truth_3d.pop(key, None)
        classes = self.classes_by_stamp.pop(key, None)
        if truth2d is None or truth3d is None or classes is None or self.paused:
            return
        boxes = {d.id: messages.box_of(d) for d in classes.detections}
        truth = [
            (
                messages.box_of(d2),
                d3.results[0].hypothesis.class_id,
                tuple(getattr(d3.results[0].pose.pose.position, a) for a in 'xyz'),
            )
            for d2, d3 in zip(truth2d.detections, truth3d.detections)
            if d3.results[0].hypothesis.class_id in CLASSES
        ]
        found = [
            (boxes[d.id], messages.base_of(d), d.results[0].hypothesis.class_id)
            for d in msg.detections
            if d.id in boxes and d.results
        ]
        self.scores_3d.extend(score_frame_3d(truth, found))

    def _on_classes(self, msg) -> None:
        from ..core import messages
        from ..core.synthetic import CLASSES
        from ..workflow.scoring import score_frame

        now = time.time()
        self.classified += 1
        self.classified_stamps.append(messages.stamp_key(msg.header))
        if not self.args.quiet:
            print(messages.format_detections(msg), flush=True)
        if self.classified <= self.args.warmup:
            return
        if self.first_time is None:
            self.first_time = now
        self.last_time = now
        self.measured += 1
        sent = self.published_at.pop(messages.stamp_key(msg.header), None)
        if self.args.source and self.args.source.startswith('bag:'):
            if sent is not None:  # a recording's stamps are its own: time it from publication
                self.latencies.append((now - sent) * 1000.0)
        else:
            self.latencies.append((now - messages.stamp_seconds(msg.header)) * 1000.0)
        truth = self.truth.pop(messages.stamp_key(msg.header), None)
        if truth is not None and self.truth_3d:  # kept for the 3D results that follow
            self.truth_2d_kept[messages.stamp_key(msg.header)] = truth
            self.classes_by_stamp[messages.stamp_key(msg.header)] = msg
            for d in (self.truth_2d_kept, self.classes_by_stamp):
                while len(d) > 50:
                    d.popitem(last=False)
        if truth is not None:
            t = [
                (messages.box_of(d), messages.best_hypothesis(d)[0])
                for d in truth.detections
                if messages.best_hypothesis(d)[0] in CLASSES
            ]
            p = [(messages.box_of(d), messages.best_hypothesis(d)[0]) for d in msg.detections]
            self.tally.add(score_frame(t, p))

    def _on_debug(self, msg) -> None:
        import cv2

        from ..core.atomic import atomic_path
        from ..core.image_codec import image_to_bgr

        self.debug_seen += 1
        if len(self.saved) >= self.args.save_max or (self.debug_seen - 1) % max(
            1, self.args.save_every
        ):
            return
        path = (
            self.args.save_dir / f'frame_{msg.header.stamp.sec}_{msg.header.stamp.nanosec:09d}.jpg'
        )
        with atomic_path(path) as tmp:
            ok, buf = cv2.imencode('.jpg', image_to_bgr(msg))
            tmp.write_bytes(buf.tobytes())
        self.saved.append(path)

    def _report_3d(self) -> dict:
        from ..core.synthetic import CLASSES
        from ..workflow.scoring import percentiles

        out = {'frames': self.frames_3d}
        for cls in (*CLASSES, 'all'):
            rows = [r for r in self.scores_3d if cls in ('all', r[0])]
            if not rows:
                continue
            found = [r for r in rows if r[1] is not None]
            out[cls] = {
                'glasses': len(rows),
                'localised': len(found),
                'base_error_cm': percentiles([100 * r[1] for r in found]),
                'fused_correct': sum(r[2] == r[0] for r in found),
            }
        return out

    def report(self) -> dict:
        from ..workflow.scoring import percentiles

        n = self.measured
        span = (self.last_time - self.first_time) if n > 1 else 0.0
        per_class = {
            k: {'correct': c, 'total': t, 'accuracy': c / t if t else None}
            for k, (c, t) in sorted(self.tally.per_class.items())
        }
        traffic = {
            topic: {
                'messages': m,
                'hz': m / span if span > 0 else None,
                'mb_per_s': b / span / 1e6 if span > 0 else None,
            }
            for topic, (m, b) in self.traffic.items()
        }
        # 3D per classified frame, from the first frame that got its 3D on (before it, depth or
        # camera_info had not reached the localizer yet: a camera started before the models)
        first = min(self.located_stamps) if self.located_stamps else None
        since = [s for s in self.classified_stamps if first is not None and s >= first]
        return {
            'source': self.args.source or '',
            'traffic': traffic,
            'localised_frames': {
                'classified_since_first_3d': len(since),
                'with_3d': sum(s in self.located_stamps for s in since),
            },
            'glasses_3d': self._report_3d(),
            'classified_frames': self.classified,
            'measured_frames': n,
            'fps': (n - 1) / span if span > 0 else None,
            'latency_ms': percentiles(self.latencies),
            'end_to_end': {
                'glasses': self.tally.total,
                'correct': self.tally.correct,
                'wrong_label': self.tally.wrong,
                'missed': self.tally.missed,
                'accuracy': self.tally.accuracy if self.tally.total else None,
                'per_class': per_class,
            },
            'annotated_frames': [str(p) for p in self.saved],
            'health': self.health,
            'stages': {
                node: {key: statistics.median(v) for key, v in sorted(keys.items())}
                for node, keys in sorted(self.stage_samples.items())
            },
        }


def bare_baseline(params: Path, args, frames: int) -> dict:
    """
    Time detector + crops + classifier called directly, no ROS, on the camera's frames.

    That is the floor for latency.
    """
    import yaml

    from ..core.models import open_classifier
    from ..core.cpu import set_threads
    from ..core.detector import Detector
    from ..core.geometry import square_crop
    from ..core.paths import DEFAULT_CLASSIFIER
    from ..core.sources import open_source
    from ..workflow.scoring import percentiles

    cfg = yaml.safe_load(params.read_text())

    def node_params(name):
        return next(v['ros__parameters'] for k, v in cfg.items() if k.endswith(name))

    cam_p, det_p, clf_p = (
        node_params('camera_node'),
        node_params('detector_node'),
        node_params('classifier_node'),
    )
    source_spec = args.source or cam_p.get('source', 'synthetic')
    if not source_spec.startswith('synthetic'):
        source_spec = (
            'synthetic'  # a live camera cannot be shared; time on the shipped scenes instead
        )
    source = open_source(
        source_spec, cam_p.get('width', 640), cam_p.get('height', 480), cam_p.get('seed', 7)
    )
    set_threads(det_p.get('threads', 0))  # the nodes' own thread budget: same settings, fair floor
    det = Detector(
        args.detector_model or det_p['model'],
        args.device or det_p['device'],
        det_p['imgsz'],
        threads=det_p.get('threads', 0),
        runtime=det_p.get('runtime', 'onnxruntime'),
    )
    clf = open_classifier(
        args.classifier_model or clf_p['model'] or DEFAULT_CLASSIFIER,
        args.device or clf_p['device'],
        clf_p.get('threads', 0),
        clf_p.get('runtime', 'onnxruntime'),
    )
    times = []
    warmup = 5  # the first calls fill caches and let the frozen classifier settle
    for i in range(frames + warmup):
        image = source.read().image
        t0 = time.perf_counter()
        found = [
            d
            for d in det.detect(image, det_p['conf'], det_p['iou'], det_p['max_det'])
            if d.class_name in det_p['crop_classes']
        ]
        clf.predict(
            [square_crop(image, d.box, det_p['crop_padding'], det_p['crop_size']) for d in found]
        )
        if i >= warmup:
            times.append((time.perf_counter() - t0) * 1000.0)
    return {'frames': frames, 'source': source_spec, 'latency_ms': percentiles(times)}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ..core.dds import describe
    from ..core.params import check_params_file
    from ..core.paths import share_dir

    params = args.params or share_dir() / 'config' / 'params.yaml'
    if not params.is_file():
        print(f'glass-pipeline: params file {params} not found', file=sys.stderr)
        return 2
    try:
        for warning in check_params_file(params):
            print(f'glass-pipeline: warning: {warning}', file=sys.stderr, flush=True)
    except ValueError as e:
        print(f'glass-pipeline: {e}', file=sys.stderr)
        return 1
    env = pipeline_env()
    os.environ.update(env)  # this process's own node (the monitor) talks to the nodes the same way
    log_dir = (
        (args.save_dir / 'logs')
        if args.save_dir
        else Path(os.environ.get('TMPDIR', '/tmp')) / f'glass_pipeline_{os.getpid()}'
    )
    log_dir.mkdir(parents=True, exist_ok=True)
    overrides = overrides_from(args)

    baseline = None
    if args.baseline_frames > 0:
        print(
            f'glass-pipeline: timing the bare models on {args.baseline_frames} frames first',
            flush=True,
        )
        baseline = bare_baseline(params, args, args.baseline_frames)

    import rclpy

    rclpy.init(args=None, signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)
    monitor = Monitor(args)
    recorder = None
    if args.record:
        from ..core.bags import BagError
        from .recorder import Recorder

        try:
            recorder = Recorder(monitor.node, args.record)
        except BagError as e:
            print(f'glass-pipeline: --record: {e}', file=sys.stderr)
            monitor.node.destroy_node()
            rclpy.try_shutdown()
            return 1
    procs: dict[str, subprocess.Popen] = {}
    logs = {}
    for name in started_nodes(args):
        logs[name] = open(log_dir / f'{name}.log', 'wb')
        procs[name] = subprocess.Popen(
            node_command(name, params, args.namespace, overrides[name]),
            env=env,
            stdout=logs[name],
            stderr=subprocess.STDOUT,
        )
    print(
        f'glass-pipeline: started {", ".join(started_nodes(args))} (logs in {log_dir}); '
        f'{describe(env)}',
        flush=True,
    )

    stop = {'why': None}

    def on_signal(signum, _frame):
        stop['why'] = signal.Signals(signum).name

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    code = 0
    started = time.monotonic()
    memory = MemoryLog(args.memory_warmup)
    cpu = CpuLog()
    next_sample = 0.0
    try:
        while stop['why'] is None:
            rclpy.spin_once(monitor.node, timeout_sec=0.1)
            monitor.start_camera_when_ready()
            if time.monotonic() >= next_sample:
                memory.sample(procs, monitor.first_time)
                cpu.sample(procs, monitor.first_time)
                next_sample = time.monotonic() + 1.0
            dead = {n: p.returncode for n, p in procs.items() if p.poll() is not None}
            if dead:
                for n, rc in dead.items():
                    tail = (
                        (log_dir / f'{n}.log')
                        .read_text(errors='replace')
                        .strip()
                        .splitlines()[-5:]
                    )
                    print(
                        f'glass-pipeline: {n} exited with code {rc}:\n    ' + '\n    '.join(tail),
                        file=sys.stderr,
                    )
                code = 1
                break
            if args.frames and monitor.classified >= args.frames + args.warmup:
                break
            if (
                args.duration
                and monitor.first_time is not None
                and time.time() - monitor.first_time >= args.duration
            ):
                break
            if monitor.classified == 0 and time.monotonic() - started > args.start_timeout:
                print(
                    f'glass-pipeline: no classification within {args.start_timeout:.0f} s; '
                    f'see {log_dir}',
                    file=sys.stderr,
                )
                code = 1
                break
    finally:
        # Pause the camera first and let every node finish and report once more on /diagnostics,
        # so the frame counts at the end add up.
        try:
            if code == 0 and stop['why'] is None and monitor.pause_camera():
                drain_end = time.monotonic() + 2.5
                while time.monotonic() < drain_end:
                    rclpy.spin_once(monitor.node, timeout_sec=0.1)
        except Exception as e:  # whatever broke here, the nodes below are still stopped
            print(f'glass-pipeline: while draining: {e!r}', file=sys.stderr)
            code = 1
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 10.0
        for name, p in procs.items():
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(
                    f'glass-pipeline: {name} did not stop within 10 s; killing it', file=sys.stderr
                )
                p.kill()
                p.wait()
                code = 1
        for f in logs.values():
            f.close()
        if any(p.returncode is not None and p.returncode < 0 for p in procs.values()):
            # a node ended by a signal (killed here, or crashed) could not remove its Fast DDS
            # shared memory (16 MB of RAM each)
            from ..core.dds import clean_shared_memory

            print(f'glass-pipeline: shared memory: {clean_shared_memory()}', file=sys.stderr)
        report = monitor.report()
        if recorder is not None:
            report['recorded'] = {'bag': str(args.record), 'messages': recorder.close()}
        report['node_exit_codes'] = {n: p.returncode for n, p in procs.items()}
        report['bare_models'] = baseline
        report['memory'] = memory.report()
        report['cpu'] = cpu.report()
        report['frames'] = frame_accounting(report['health'], monitor.classified)
        monitor.node.destroy_node()
        rclpy.try_shutdown()
    print_summary(report)
    if args.report:
        from ..core.atomic import atomic_write_text

        atomic_write_text(args.report, json.dumps(report, indent=2))
    return code


def frame_accounting(health: dict, classified: int) -> dict:
    """Where every camera frame went, from the nodes' last /diagnostics reports."""

    def n(node, key):
        try:
            return int(health[node][key])
        except (KeyError, ValueError):
            return None

    cam, det, clf = (
        n('camera_node', 'processed'),
        n('detector_node', 'received'),
        n('classifier_node', 'received'),
    )
    return {
        'camera_published': cam,
        'detector_received': det,
        'not_delivered_best_effort': (cam - det) if cam is not None and det is not None else None,
        'detector_dropped_stale': n('detector_node', 'dropped'),
        'detector_rejected': n('detector_node', 'rejected') or 0,
        'detector_processed': n('detector_node', 'processed'),
        'classifier_received': clf,
        'classifier_dropped_stale': n('classifier_node', 'dropped'),
        'classifier_processed': n('classifier_node', 'processed'),
        'classifications_received_here': classified,
    }


def print_summary(r: dict) -> None:
    lat = r['latency_ms']
    print('\n=== glass-pipeline summary ===')
    print(
        f'classified frames: {r["classified_frames"]} '
        f'({r["measured_frames"]} measured after warm-up)'
    )
    if r['fps']:
        print(f'throughput: {r["fps"]:.2f} frames/s')
    recorded = str(r.get('source', '')).startswith('bag:')
    print(
        f'latency camera {"publication" if recorded else "stamp"} -> classification: '
        f'p50 {lat["p50"]:.0f} ms, p95 {lat["p95"]:.0f} ms, max {lat["max"]:.0f} ms'
    )
    if r.get('bare_models'):
        bare = r['bare_models']['latency_ms']['p50']
        print(
            'bare models in one process, no ROS (same machine, same run): '
            f'p50 {bare:.0f} ms per frame; '
            f'pipeline p50 / bare p50 = {lat["p50"] / bare:.2f}'
        )
    e = r['end_to_end']
    if e['glasses']:
        print(
            'end to end vs synthetic ground truth: '
            f'{e["correct"]}/{e["glasses"]} glasses labelled correctly '
            f'({100 * e["accuracy"]:.1f}%), {e["wrong_label"]} wrong label, {e["missed"]} missed'
        )
        for k, v in e['per_class'].items():
            print(f'  {k:<11} {v["correct"]}/{v["total"]}')
    g = r.get('glasses_3d') or {}
    if g.get('all'):
        print(
            f'3D (glass/detections_3d) vs synthetic ground truth, {g["frames"]} frames: '
            'base position error, fused label'
        )
        for k, v in g.items():
            if k == 'frames':
                continue
            e = v['base_error_cm']
            print(
                f'  {k:<11} {v["localised"]}/{v["glasses"]} localised, base error p50 '
                f'{e["p50"]:.1f} cm, p95 {e["p95"]:.1f} cm; fused label correct '
                f'{v["fused_correct"]}/{v["localised"]}'
            )
    if r['annotated_frames']:
        print(
            f'annotated frames: {len(r["annotated_frames"])} '
            f'in {Path(r["annotated_frames"][0]).parent}'
        )
    f = r.get('frames') or {}
    if f.get('camera_published') is not None:
        print(
            f'frames: camera published {f["camera_published"]}; '
            f'detector received {f["detector_received"]} '
            f'({f["not_delivered_best_effort"]} not delivered, best effort), '
            f'dropped {f["detector_dropped_stale"]} stale, '
            f'rejected {f["detector_rejected"]}, processed {f["detector_processed"]}; '
            f'classifier received {f["classifier_received"]}, '
            f'dropped {f["classifier_dropped_stale"]} stale, '
            f'processed {f["classifier_processed"]}; '
            f'{f["classifications_received_here"]} classifications reached this monitor'
        )
    if r.get('stages'):
        print("per stage, median over the measured seconds of each node's /diagnostics figures:")
    for name, st in r.get('stages', {}).items():
        fmt = {k: f'{v:.0f}' for k, v in st.items()}
        age = (
            ''
            if recorded  # recorded stamps: their age is the recording's, not a latency
            else f'; camera stamp age at its output p50 {fmt.get("latency_ms_p50", "-")} ms, '
            f'p95 {fmt.get("latency_ms_p95", "-")} ms'
        )
        print(
            f'  {name:<16} work p50 {fmt.get("processing_ms_p50", "-")} ms, '
            f'p95 {fmt.get("processing_ms_p95", "-")} ms{age}'
        )
    if r.get('traffic'):
        print('arriving here while measuring (messages/s, MB/s):')
        for topic, t in r['traffic'].items():
            hz, mb = t['hz'] or 0.0, t['mb_per_s'] or 0.0
            print(f'  {topic:<32} {t["messages"]:>6} messages, {hz:6.2f} /s, {mb:7.2f} MB/s')
    if r.get('glasses_3d') is not None:
        g = r.get('localised_frames', {})
        print(
            f"3D messages (glass/detections_3d) reaching this monitor: {r['glasses_3d']['frames']}"
            f"; from the first one on, {g.get('with_3d')} of {g.get('classified_since_first_3d')} "
            'classified frames got theirs'
        )
    if r.get('recorded'):
        rec = r['recorded']
        print(
            f"recorded {sum(rec['messages'].values())} messages on {len(rec['messages'])} topics "
            f"into {rec['bag']}"
        )
    for name, m in sorted(r.get('memory', {}).items()):
        growth = (
            f'{m["growth_pct"]:+.1f}%'
            if m['growth_pct'] is not None
            else 'n/a (run shorter than warm-up)'
        )
        start = f'{m["start_mb"]:.0f}' if m['start_mb'] is not None else '-'
        print(
            f'  {name:<16} resident memory start {start} MiB, end {m["end_mb"]:.0f} MiB, '
            f'peak {m["peak_mb"]:.0f} MiB, growth {growth}'
        )
    if r.get('cpu'):
        shares = ', '.join(f'{n} {c["cores"]:.2f}' for n, c in sorted(r['cpu'].items()))
        total = sum(c['cores'] for c in r['cpu'].values())
        print(
            f'CPU over the measured seconds, in cores ({os.cpu_count()} here): {shares}; '
            f'all {total:.2f}'
        )
    print(f'node exit codes: {r["node_exit_codes"]}')


if __name__ == '__main__':
    sys.exit(main())
