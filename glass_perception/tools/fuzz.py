"""
glass-fuzz: feed the subscribing nodes thousands of malformed messages over real DDS.

Each target node (detector_node, classifier_node, overlay_node, localizer_node, foxglove_node)
runs as its own process, in its own namespace (/fuzz/<target>) of a random ROS domain, with the
params file the launch file uses; the Foxglove bridge's answers are read over its WebSocket.
The cases come from ``glass_perception.workflow.fuzz`` (seeded: a case is rebuilt from seed, target
and index). Malformed and unpaired cases are sent in small batches, each closed by a valid
message (a valid case of the stream, or a plain synthetic frame when the batch is full); the
harness waits for the valid message's answer, by stamp, before the next batch, and checks that
the node's process is still alive. A node that dies is counted as a crash, its log kept, and it
is restarted so the run goes on.

At the end each node's /diagnostics report gives what it counted (received, processed, rejected,
dropped, errors), and the harness prints a table: cases per kind, what was sent, answered and
rejected, crashes. Exit code 1 on a crash, a valid message left unanswered, an answer to a
malformed or unpaired message, a processing error, a traceback in a log, or (detector and
classifier) frames the node received but neither processed, rejected nor dropped.

Camera images (and the localizer's depth images and camera_info) are best effort, depth 1, and
the detector's and localizer's workers are latest wins: a malformed message may be replaced by the
next one before the node examines it (counted as ``dropped``, or lost in the DDS reader before the
node sees it). So ``rejected`` is reported next to what was sent, not asserted equal to it. The
localizer also rejects (counts) the bad camera_info of some valid cases, whose frames it answers
with the last good calibration; they are added to what it should reject.

  glass-fuzz                                   # 2000 cases for each of the five nodes
  glass-fuzz --nodes classifier --cases 300 --seed 7
  glass-fuzz --nodes overlay --seed 7 --replay 123      # one case again, from its seed and index
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import dataclass, field
import json
import os
from pathlib import Path
import random
import signal
import subprocess
import sys
import tempfile
import time

NODE = {
    'detector': 'detector_node',
    'classifier': 'classifier_node',
    'overlay': 'overlay_node',
    'localizer': 'localizer_node',
    'foxglove': 'foxglove_node',
}
#: the text of each node's reject() line
REJECT_TEXT = {
    'detector': 'rejected image',
    'classifier': 'rejected frame',
    'overlay': 'cannot draw frame',
    'localizer': 'rejected',  # 'rejected frame ...' and 'camera_info rejected: ...'
    'foxglove': 'debug image not sent',
}


def foxglove_port() -> int:
    """Return the fuzzed Foxglove bridge's port: one per ROS domain, on this machine only."""
    return 21000 + int(os.environ.get('ROS_DOMAIN_ID', '0'))


PROBE_NSEC = 500_000_000


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='glass-fuzz',
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        '--nodes',
        default=','.join(NODE),
        help=f'comma-separated targets: {", ".join(NODE)} (default: all)',
    )
    p.add_argument('--cases', type=int, default=2000, help='cases per node')
    p.add_argument(
        '--seed', type=int, default=None, help='generator seed (default: random, printed)'
    )
    p.add_argument('--start', type=int, default=0, help='index of the first case')
    p.add_argument(
        '--replay', type=int, default=None, help='run only this case index (then a valid probe)'
    )
    p.add_argument(
        '--batch', type=int, default=6, help='most malformed/unpaired cases before a valid one'
    )
    p.add_argument(
        '--pace', type=float, default=0.002, help='seconds between two published messages'
    )
    p.add_argument(
        '--timeout', type=float, default=10.0, help="seconds to wait for a valid message's answer"
    )
    p.add_argument(
        '--start-timeout', type=float, default=180.0, help='seconds for a node to start answering'
    )
    p.add_argument(
        '--params', type=Path, help="params YAML (default: the package's config/params.yaml)"
    )
    p.add_argument('--domain', type=int, help='ROS_DOMAIN_ID (default: random in 1..101)')
    p.add_argument(
        '--log-dir', type=Path, help='where the node logs go (default: a new temporary folder)'
    )
    p.add_argument('--json', type=Path, help='write the summary here as JSON')
    p.add_argument('-q', '--quiet', action='store_true', help='no progress lines')
    return p


def setup_env(domain: int | None) -> int:
    """
    Pick a random domain (1..101: DDS ports stay below the ephemeral range).

    Discovery is limited to this host.
    """
    domain = (
        domain
        if domain is not None
        else random.Random(os.getpid() ^ time.time_ns()).randint(1, 101)
    )
    os.environ['ROS_DOMAIN_ID'] = str(domain)
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    from ..core.dds import image_transport_env
    from ..core.paths import share_dir

    os.environ.update(image_transport_env(os.environ, share_dir() / 'config'))
    os.environ.setdefault('PYTHONUNBUFFERED', '1')
    return domain


class NodeProcess:
    """One target node; ``restart()`` after a crash starts a new incarnation with its own log."""

    def __init__(self, target: str, params: Path, log_dir: Path):
        from .pipeline import node_command

        self.target, self.name = target, NODE[target]
        self.namespace = f'fuzz/{target}'
        overrides = (
            {'port': foxglove_port(), 'address': '127.0.0.1'} if target == 'foxglove' else {}
        )
        self.cmd = node_command(self.name, params, self.namespace, overrides)
        self.log_dir = log_dir
        self.logs: list[Path] = []
        self.proc: subprocess.Popen | None = None
        self._log_file = None
        self.start()

    def start(self) -> None:
        log = self.log_dir / f'{self.name}{"" if not self.logs else f".{len(self.logs)}"}.log'
        self.logs.append(log)
        self._log_file = open(log, 'wb')
        self.proc = subprocess.Popen(
            self.cmd, stdout=self._log_file, stderr=subprocess.STDOUT, env=dict(os.environ)
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self, all_logs: bool = True) -> str:
        if not self._log_file.closed:
            self._log_file.flush()
        logs = self.logs if all_logs else self.logs[-1:]
        return ''.join(p.read_text(errors='replace') for p in logs)

    def restart(self) -> None:
        self._log_file.close()
        self.start()

    def stop(self, timeout: float = 10.0) -> int | None:
        if self.alive():
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._log_file.close()
                return None
        self._log_file.close()
        return self.proc.returncode


@dataclass
class TargetResult:
    target: str
    seed: int
    cases: int = 0
    kinds: dict = field(default_factory=dict)  # kind -> {"expect", "sent", "answered"}
    sent: Counter = field(default_factory=Counter)  # valid / malformed / unpaired / probe
    valid_answered: int = 0
    valid_resent: int = 0
    also_rejected: int = 0  # messages of valid cases the node rejects (a bad camera_info)
    unanswered: list = field(default_factory=list)  # descriptions of valid cases never answered
    wrong_answers: list = field(
        default_factory=list
    )  # malformed / unpaired cases that got an answer
    crashes: list = field(default_factory=list)
    diagnostics: dict = field(default_factory=dict)  # counts during the run (final minus baseline)
    log_reject_lines: int = 0
    tracebacks: int = 0
    unaccounted: int | None = None  # received - processed - rejected - dropped - errors
    missed: int = 0  # malformed sent + also_rejected - rejected - dropped: never examined
    no_report: bool = False  # the node's final /diagnostics report never came
    exit_code: int | None = None
    seconds: float = 0.0  # the cases, after the node first answered
    startup_seconds: float = 0.0
    log: str = ''

    def failures(self) -> list[str]:
        out = []
        if self.crashes:
            out.append(f'{len(self.crashes)} crash(es)')
        if self.unanswered:
            out.append(f'{len(self.unanswered)} valid message(s) unanswered')
        if self.wrong_answers:
            out.append(f'{len(self.wrong_answers)} malformed/unpaired message(s) answered')
        if self.diagnostics.get('errors', 0):
            out.append(f'{self.diagnostics["errors"]} processing error(s)')
        if self.no_report:
            out.append('no /diagnostics report at the end')
        if self.tracebacks:
            out.append(f'{self.tracebacks} traceback(s) in the log')
        if self.unaccounted:
            out.append(
                f'{self.unaccounted} received frame(s) neither processed, rejected nor dropped'
            )
        if self.exit_code not in (0, None) and not self.crashes:
            out.append(f'exit code {self.exit_code} on SIGINT')
        return out

    def to_json(self) -> dict:
        d = dict(self.__dict__)
        d['sent'] = dict(self.sent)
        d['failures'] = self.failures()
        return d


class Harness:
    """The fuzzer's rclpy node: publishers onto each target's inputs, its answers, /diagnostics."""

    def __init__(self, targets: list[str], args):
        from diagnostic_msgs.msg import DiagnosticArray
        import rclpy
        from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import CameraInfo, Image
        from vision_msgs.msg import Detection2DArray, Detection3DArray
        from visualization_msgs.msg import MarkerArray

        from ..nodes.common import DIAGNOSTICS_QOS, RESULT_QOS, SENSOR_PUB_QOS
        from ..workflow import fuzz

        self.rclpy, self.fuzz, self.args = rclpy, fuzz, args
        rclpy.init()
        self.node = rclpy.create_node(f'glass_fuzz_{os.getpid()}')
        # inputs: images and camera_info as a camera sends them; the rest reliable with room for a
        # whole batch
        deep = QoSProfile(
            reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST, depth=100
        )
        best_effort = QoSProfile(
            reliability=ReliabilityPolicy.BEST_EFFORT, history=HistoryPolicy.KEEP_LAST, depth=10
        )
        types = {
            fuzz.CAMERA: (Image, SENSOR_PUB_QOS),
            fuzz.CROPS: (Image, deep),
            fuzz.CANDIDATES: (Detection2DArray, deep),
            fuzz.CLASSES: (Detection2DArray, deep),
            fuzz.FRAGILE: (Detection2DArray, deep),
            fuzz.DEPTH: (Image, SENSOR_PUB_QOS),
            fuzz.CAMERA_INFO: (CameraInfo, SENSOR_PUB_QOS),
            fuzz.DEBUG: (Image, SENSOR_PUB_QOS),
            fuzz.MARKERS: (MarkerArray, deep),
        }
        inputs = {
            'detector': (fuzz.CAMERA,),
            'classifier': (fuzz.CROPS, fuzz.CANDIDATES),
            'overlay': (fuzz.CAMERA, fuzz.CLASSES, fuzz.FRAGILE),
            'localizer': (fuzz.CAMERA_INFO, fuzz.DEPTH, fuzz.CLASSES),
            'foxglove': (fuzz.MARKERS, fuzz.DEBUG),
        }
        answer_types = {
            'detector': (Detection2DArray, RESULT_QOS),
            'classifier': (Detection2DArray, RESULT_QOS),
            'overlay': (Image, best_effort),
            'localizer': (Detection3DArray, RESULT_QOS),
        }
        self.pubs: dict[str, dict] = {}
        self.answers: dict[str, Counter] = {}
        self.answer_subs = {}
        for t in targets:
            ns = f'/fuzz/{t}'
            self.pubs[t] = {
                topic: self.node.create_publisher(
                    types[topic][0], f'{ns}/{topic}', types[topic][1]
                )
                for topic in inputs[t]
            }
            self.answers[t] = Counter()
            if t == 'foxglove':  # its answers come over WebSocket, as a viewer sees them
                self.answer_subs[t] = FoxgloveAnswers(foxglove_port(), self.answers[t])
                continue
            answer_type, qos = answer_types[t]
            self.answer_subs[t] = self.node.create_subscription(
                answer_type, f'{ns}/{fuzz.ANSWER_TOPIC[t]}', self._on_answer(t), qos
            )
        self.health: dict[str, tuple[float, dict]] = {}
        self.node.create_subscription(
            DiagnosticArray, '/diagnostics', self._on_health, DIAGNOSTICS_QOS
        )

    def _on_answer(self, target: str):
        def cb(msg):
            self.answers[target][(msg.header.stamp.sec, msg.header.stamp.nanosec)] += 1

        return cb

    def _on_health(self, msg) -> None:
        now = time.monotonic()
        for s in msg.status:
            self.health[s.name] = (now, {kv.key: kv.value for kv in s.values})

    def spin(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while True:
            self.rclpy.spin_once(
                self.node, timeout_sec=max(0.0, min(0.05, end - time.monotonic()))
            )
            if time.monotonic() >= end:
                return

    def publish(self, target: str, case) -> None:
        for topic, msg in case.messages:
            self.pubs[target][topic].publish(msg)
            if self.args.pace:
                time.sleep(self.args.pace)

    def wait_answer(self, target: str, stamp, proc: NodeProcess, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.rclpy.spin_once(self.node, timeout_sec=0.02)
            if self.answers[target][stamp]:
                return True
            if not proc.alive():
                self.spin(0.2)
                return bool(self.answers[target][stamp])
        return bool(self.answers[target][stamp])

    def connected(self, target: str) -> bool:
        return (
            all(p.get_subscription_count() > 0 for p in self.pubs[target].values())
            and self.answer_subs[target].get_publisher_count() > 0
        )

    def report(self, target: str, after: float, timeout: float = 5.0) -> dict | None:
        """Return the node's first /diagnostics values received after ``after`` (monotonic)."""
        name = f'glass_perception: /fuzz/{target}/{NODE[target]}'
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.rclpy.spin_once(self.node, timeout_sec=0.05)
            got = self.health.get(name)
            if got and got[0] > after:
                return got[1]
        return None

    def close(self) -> None:
        for sub in self.answer_subs.values():
            if isinstance(sub, FoxgloveAnswers):
                sub.close()
        self.node.destroy_node()
        self.rclpy.try_shutdown()


class FoxgloveAnswers:
    """
    A Foxglove WebSocket client, in a thread: counts the debug images it receives, by stamp.

    Connects (retrying while the bridge starts) to ``ws://127.0.0.1:port``, subscribes to the
    ``/fuzz/foxglove/glass/debug_image`` channel, and counts each CompressedImage under its
    timestamp: what a viewer would see. ``get_publisher_count()`` is 1 once subscribed.
    """

    TOPIC = '/fuzz/foxglove/glass/debug_image'

    def __init__(self, port: int, answers: Counter):
        import threading

        self.port, self.answers = port, answers
        self.subscribed = False
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def get_publisher_count(self) -> int:
        return 1 if self.subscribed else 0

    def _run(self) -> None:
        import json as json_

        from websockets.sync.client import connect

        from ..core.foxglove_view import channel_decoder

        while not self.stop.is_set():
            try:
                with connect(
                    f'ws://127.0.0.1:{self.port}', subprotocols=['foxglove.sdk.v1'],
                    open_timeout=5, max_size=None,
                ) as ws:  # fmt: skip
                    decode = None
                    while not self.stop.is_set():
                        try:
                            frame = ws.recv(timeout=0.5)
                        except TimeoutError:
                            continue
                        if isinstance(frame, str):
                            msg = json_.loads(frame)
                            if msg.get('op') != 'advertise':
                                continue
                            for c in msg.get('channels', []):
                                if c['topic'] != self.TOPIC:
                                    continue
                                decode = channel_decoder(c)
                                sub = {'id': 1, 'channelId': c['id']}
                                ws.send(json_.dumps({'op': 'subscribe', 'subscriptions': [sub]}))
                                self.subscribed = True
                            continue
                        if frame[:1] == b'\x01' and decode is not None:
                            # opcode, subscription id (4 bytes), log time (8), then the message
                            image = decode(frame[13:])
                            key = (image.timestamp.seconds, image.timestamp.nanos)
                            self.answers[key] += 1
            except OSError:
                self.subscribed = False
                self.stop.wait(0.5)  # the bridge is not up yet, or restarted after a crash
            except Exception:  # a connection closed under us: connect again
                self.subscribed = False
                self.stop.wait(0.5)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(3.0)


COUNTS = ('received', 'processed', 'rejected', 'dropped', 'errors')


def _counts(values: dict | None) -> dict[str, int]:
    values = values or {}
    out = {k: int(values.get(k, 0)) for k in COUNTS}
    for k in ('unpaired_evicted', 'crops_sent', 'frames_without_depth'):
        if k in values:
            out[k] = int(values[k])
    return out


class Runner:
    def __init__(self, harness: Harness, proc: NodeProcess, result: TargetResult, args, say):
        self.h, self.proc, self.r, self.args, self.say = harness, proc, result, args, say
        self.fuzz = harness.fuzz
        self.target = proc.target
        self.probe_k = 0
        self.warm_sec = 1
        self.totals: Counter = Counter()
        self.baseline: dict | None = None
        self.last_values: dict | None = None

    def warm_up(self) -> bool:
        """Wait until the node answers a plain valid message (model loaded, DDS matched)."""
        end = time.monotonic() + self.args.start_timeout
        while time.monotonic() < end and self.proc.alive():
            if not self.h.connected(self.target):
                self.h.spin(0.2)
                continue
            stamp = (self.warm_sec, 0)
            self.warm_sec += 1
            self.h.publish(self.target, self.fuzz.probe(self.target, self.probe_k, stamp))
            self.probe_k += 1
            if self.h.wait_answer(self.target, stamp, self.proc, 2.0):
                self.baseline = _counts(self.h.report(self.target, time.monotonic()))
                return True
        return False

    def _close_incarnation(self, values: dict | None) -> None:
        """Add what this incarnation counted (since its warm-up) to the totals."""
        if self.baseline is None:
            return
        now = _counts(values)
        for k, v in now.items():
            self.totals[k] += v - self.baseline.get(k, 0)
        self.baseline = None

    def crashed(self, batch: list) -> None:
        code = self.proc.proc.poll()
        tail = self.proc.output(all_logs=False)[-3000:]
        self.r.crashes.append(
            {
                'exit_code': code,
                'cases': [c.describe() for c in batch],
                'replay': [
                    f'glass-fuzz --nodes {self.target} --seed {self.r.seed} --replay {c.index}'
                    for c in batch
                    if c.index >= 0
                ],
                'log_tail': tail,
            }
        )
        self.say(
            f'  CRASH of {self.proc.name} (exit {code}) during: '
            f'{", ".join(c.describe() for c in batch)}'
        )
        name = f'glass_perception: /fuzz/{self.target}/{NODE[self.target]}'
        self._close_incarnation(self.h.health.get(name, (0, None))[1])
        self.proc.restart()
        if not self.warm_up():
            raise RuntimeError(
                f'{self.proc.name} did not come back after a crash:\n{self.proc.output()[-3000:]}'
            )

    def send_batch(self, batch: list, closing) -> None:
        """Publish the batch and its closing valid case; wait for that case's answer."""
        for c in batch + [closing]:
            self.h.publish(self.target, c)
        # a best-effort image (or depth image, or camera_info) may be lost: after 5 s it is sent
        # once more (the classifier's inputs are reliable, and a frame of a hundred crops can take
        # longer than that on a busy machine)
        first = self.args.timeout if self.target == 'classifier' else min(5.0, self.args.timeout)
        answered = self.h.wait_answer(self.target, closing.stamp, self.proc, first)
        if not answered and self.proc.alive() and self.target != 'classifier':
            self.r.valid_resent += 1
            self.h.publish(self.target, closing)
            answered = self.h.wait_answer(self.target, closing.stamp, self.proc, self.args.timeout)
        if not self.proc.alive():
            self.crashed(batch + [closing])
            return
        if answered:
            self.r.valid_answered += 1
        else:
            self.r.unanswered.append(closing.describe())
            self.say(f'  unanswered: {closing.describe()}')

    def run(self, indices: list[int]) -> None:
        t0 = time.monotonic()
        if not self.warm_up():
            self.r.crashes.append(
                {
                    'exit_code': self.proc.proc.poll(),
                    'cases': ['start-up'],
                    'replay': [],
                    'log_tail': self.proc.output()[-3000:],
                }
            )
            self.say(
                f'  {self.proc.name} never answered a valid message:\n{self.proc.output()[-2000:]}'
            )
            return
        self.r.startup_seconds = time.monotonic() - t0
        t0 = time.monotonic()
        expected: dict = {}  # stamp -> (kind, expect, description)
        kinds: dict = {}
        batch: list = []
        last = time.monotonic()
        for n, i in enumerate(indices):
            c = self.fuzz.case(self.r.seed, self.target, i)
            kinds.setdefault(c.kind, {'expect': c.expect, 'sent': 0, 'answered': 0})['sent'] += 1
            self.r.sent[c.expect] += 1
            self.r.also_rejected += c.also_rejected
            expected[c.stamp] = (c.kind, c.expect, c.describe())
            if c.expect == self.fuzz.VALID:
                self.send_batch(batch, c)
                batch = []
            else:
                batch.append(c)
                if len(batch) >= self.args.batch or n == len(indices) - 1:
                    self.r.sent['probe'] += 1
                    self.send_batch(
                        batch, self.fuzz.probe(self.target, self.probe_k, (c.stamp[0], PROBE_NSEC))
                    )
                    self.probe_k += 1
                    batch = []
            if time.monotonic() - last > 10.0:
                last = time.monotonic()
                self.say(
                    f'  {self.target}: {n + 1}/{len(indices)} cases, '
                    f'{self.r.valid_answered} answered, '
                    f'{len(self.r.crashes)} crash(es)'
                )
        self.h.spin(0.5)  # late answers, if any
        final = self.h.report(self.target, time.monotonic())
        self.r.no_report = final is None
        if final is not None:
            self._close_incarnation(final)
        self.r.diagnostics = dict(self.totals)
        answers = self.h.answers[self.target]
        for stamp, (kind, expect, text) in expected.items():
            if answers[stamp]:
                kinds[kind]['answered'] += 1
                if expect != self.fuzz.VALID:
                    self.r.wrong_answers.append(text)
        self.r.kinds = dict(sorted(kinds.items(), key=lambda kv: (kv[1]['expect'], kv[0])))
        self.r.cases = len(indices)
        d = self.r.diagnostics
        # superseded while the worker was busy (dropped), or lost before the node saw it:
        # best-effort images, or a reader history of depth 4 (classifier) that overflowed
        should_reject = self.r.sent[self.fuzz.MALFORMED] + self.r.also_rejected
        self.r.missed = max(0, should_reject - d.get('rejected', 0) - d.get('dropped', 0))
        if self.target in ('detector', 'classifier') and final is not None:
            self.r.unaccounted = (
                d['received'] - d['processed'] - d['rejected'] - d['dropped'] - d['errors']
            )
        self.r.seconds = time.monotonic() - t0


def print_summary(results: list[TargetResult], log_dir: Path, out=sys.stdout) -> None:
    w = out.write
    w('\nglass-fuzz summary\n')
    w(f'{"node":<11} {"kind":<34} {"expect":<10} {"sent":>6} {"answered":>9}\n')
    for r in results:
        for kind, k in r.kinds.items():
            w(f'{r.target:<11} {kind:<34} {k["expect"]:<10} {k["sent"]:>6} {k["answered"]:>9}\n')
    w('\n')
    head = (
        f'{"node":<11} {"cases":>6} {"malformed":>9} {"unpaired":>8} {"valid":>6} {"answered":>8} '
        f'{"resent":>6} {"received":>8} {"rejected":>8} {"dropped":>7} '
        f'{"missed":>6} {"errors":>6} '
        f'{"log lines":>9} {"crashes":>7} {"seconds":>7}\n'
    )
    w(head)
    for r in results:
        d = r.diagnostics
        valid = r.sent['valid'] + r.sent['probe']
        w(
            f'{r.target:<11} {r.cases:>6} {r.sent["malformed"]:>9} '
            f'{r.sent["unpaired"]:>8} {valid:>6} '
            f'{r.valid_answered:>8} {r.valid_resent:>6} '
            f'{d.get("received", 0):>8} {d.get("rejected", 0):>8} '
            f'{d.get("dropped", 0):>7} {r.missed:>6} {d.get("errors", 0):>6} '
            f'{r.log_reject_lines:>9} '
            f'{len(r.crashes):>7} {r.seconds:>7.1f}\n'
        )
    w(
        '\nvalid: valid cases + plain frames closing a batch. '
        "received, rejected, dropped, errors: the node's own\n"
        '/diagnostics counts during the run (dropped: superseded while busy, latest wins). '
        'missed: malformed\n'
        'messages neither rejected nor dropped, i.e. lost before the node saw them '
        '(best-effort images; the\n'
        'overlay draws, and so rejects, only frames whose image arrived). '
        'log lines: throttled reject lines.\n'
    )
    for r in results:
        problems = r.failures()
        w(f'{r.target}: {"OK" if not problems else "FAIL: " + "; ".join(problems)}\n')
        for c in r.crashes:
            w(f'  crash (exit {c["exit_code"]}) during {c["cases"]}\n    replay: {c["replay"]}\n')
        for u in r.unanswered[:10]:
            w(f'  unanswered: {u}\n')
        for u in r.wrong_answers[:10]:
            w(f'  answered although {u}\n')
    w(f'node logs: {log_dir}\n')


def run_fuzz(args) -> list[TargetResult]:
    from ..core.paths import share_dir

    targets = [t.strip() for t in args.nodes.split(',') if t.strip()]
    unknown = [t for t in targets if t not in NODE]
    if unknown:
        raise SystemExit(f'glass-fuzz: unknown node(s) {unknown}; choose from {", ".join(NODE)}')
    params = args.params or share_dir() / 'config' / 'params.yaml'
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix='glass-fuzz-'))
    log_dir.mkdir(parents=True, exist_ok=True)
    args.log_dir = log_dir
    seed = args.seed if args.seed is not None else random.randrange(1 << 31)
    args.seed = seed
    say = (lambda s: None) if args.quiet else (lambda s: print(s, flush=True))
    domain = setup_env(args.domain)
    say(
        f'glass-fuzz: seed {seed}, ROS_DOMAIN_ID {domain}, nodes {", ".join(targets)}, '
        f'logs in {log_dir}'
    )

    procs = {
        t: NodeProcess(t, params, log_dir) for t in targets
    }  # start together: model loading overlaps
    harness = Harness(targets, args)
    results = []
    try:
        for t in targets:
            r = TargetResult(t, seed)
            indices = (
                [args.replay]
                if args.replay is not None
                else list(range(args.start, args.start + args.cases))
            )
            say(f'{t}: {len(indices)} case(s)')
            Runner(harness, procs[t], r, args, say).run(indices)
            results.append(r)
    finally:
        for t, p in procs.items():
            code = p.stop()
            for r in results:
                if r.target == t:
                    text = p.output()
                    r.exit_code = code
                    r.log_reject_lines = sum(REJECT_TEXT[t] in line for line in text.splitlines())
                    r.tracebacks = text.count('Traceback')
                    r.log = str(p.logs[-1])
        harness.close()
    return results


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    results = run_fuzz(args)
    print_summary(results, args.log_dir)
    if args.json:
        args.json.write_text(
            json.dumps({'seed': args.seed, 'results': [r.to_json() for r in results]}, indent=1)
        )
    return 1 if any(r.failures() for r in results) or not results else 0


if __name__ == '__main__':
    sys.exit(main())
