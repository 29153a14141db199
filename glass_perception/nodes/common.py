"""What every node shares: parameter declaration from the specs, QoS profiles, a clean main()."""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
import time
from typing import Callable

from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    SetParametersResult,
)
import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions

from ..core import messages
from ..core.dds import default_transports
from ..core.errors import ModelLoadError
from ..core.monitor import StageMonitor
from ..core.params import NODES, Param, ROS_PARAMETERS, undeclared_warning

# Camera images: best effort, depth 1. A best-effort subscription matches both best-effort camera
# drivers (the sensor-data profile) and reliable ones; depth 1 means a slow consumer sees the
# newest frame, never a backlog.
IMAGE_QOS = QoSProfile(
    reliability=ReliabilityPolicy.BEST_EFFORT,
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    durability=DurabilityPolicy.VOLATILE,
)
# What the camera publishes: the sensor-data profile that camera drivers use.
SENSOR_PUB_QOS = QoSProfile(
    reliability=ReliabilityPolicy.BEST_EFFORT,
    history=HistoryPolicy.KEEP_LAST,
    depth=5,
    durability=DurabilityPolicy.VOLATILE,
)
# Results: reliable, a short history.
RESULT_QOS = QoSProfile(
    reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST, depth=10
)
# Crops and candidates travel as a pair and both must arrive: reliable, short history.
PAIR_QOS = QoSProfile(
    reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST, depth=4
)
# Health reports: /diagnostics is absolute by convention (rqt_robot_monitor and the aggregator
# read it).
DIAGNOSTICS_QOS = QoSProfile(
    reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST, depth=10
)
# /tf and /tf_static as tf2_ros uses them.
TF_QOS = QoSProfile(
    reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST, depth=100
)
TF_STATIC_QOS = QoSProfile(
    reliability=ReliabilityPolicy.RELIABLE,
    history=HistoryPolicy.KEEP_LAST,
    depth=100,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)
# Latched metadata (LabelInfo): late subscribers get the last message.
LATCHED_QOS = QoSProfile(
    reliability=ReliabilityPolicy.RELIABLE,
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)


# How often the spin loop looks at the stop flag, and how long after SIGINT/SIGTERM the process
# is gone whatever its clean-up is doing (supervisors and launch expect a stop within 2 s).
STOP_POLL_S = 0.1
STOP_DEADLINE_S = 0.8  # 1.2 left too little margin on 2 loaded cores (rare 2 s misses)


def image_input(transport: str, depth: bool = False) -> tuple[type, str]:
    """
    Return (message type, topic) of the camera image (or depth) a node takes.

    ``raw``: camera/image_raw (camera/depth/image_raw), sensor_msgs/Image; ``compressed``: the
    image_transport companion, camera/image_raw/compressed (camera/depth/image_raw/
    compressedDepth), sensor_msgs/CompressedImage. core.image_codec reads both.
    """
    from sensor_msgs.msg import CompressedImage, Image

    topic = 'camera/depth/image_raw' if depth else 'camera/image_raw'
    if transport == 'compressed':
        return CompressedImage, topic + ('/compressedDepth' if depth else '/compressed')
    return Image, topic


class StartupError(RuntimeError):
    """A fault that stops a node at start-up; the message says what and what to do."""


def descriptor(p: Param) -> ParameterDescriptor:
    d = ParameterDescriptor(description=p.description, read_only=p.read_only)
    if isinstance(p.default, float) and p.low is not None:
        d.floating_point_range = [
            FloatingPointRange(from_value=float(p.low), to_value=float(p.high), step=0.0)
        ]
    elif isinstance(p.default, int) and not isinstance(p.default, bool) and p.low is not None:
        d.integer_range = [IntegerRange(from_value=int(p.low), to_value=int(p.high), step=0)]
    return d


class GlassNodeMixin:
    """
    Parameters from ``glass_perception.core.params.NODES[name]``, health on /diagnostics.

    Values from a params file or the command line are validated at start-up (StartupError on a
    bad one); later changes are validated by the same rules and refused with the reason, keeping
    the old value. ``on_change(name, value)`` hooks let a node react to accepted changes.
    """

    def _declare_glass_parameters(self, name: str) -> None:
        self._specs = {p.name: p for p in NODES[name]}
        self._extra_checks: list[Callable[[str, object], str | None]] = []
        self._on_change: list[Callable[[str, object], None]] = []
        for p in NODES[name]:
            try:
                self.declare_parameter(p.name, p.default, descriptor(p))
            except Exception as e:  # rclpy raises InvalidParameterValueException and friends
                raise StartupError(f'parameter {p.name}: {e}') from e
            reason = p.validate(self.get_parameter(p.name).value)
            if reason:
                raise StartupError(f'parameter {reason}')
        self.add_on_set_parameters_callback(self._validate_change)
        self.monitor: StageMonitor | None = None
        # what rclpy ignores silently: a key of the params file this node does not declare
        for key in sorted(getattr(self, '_parameter_overrides', {})):
            if key not in self._specs and key not in ROS_PARAMETERS and '.' not in key:
                self.get_logger().warning(undeclared_warning(name, key))

    def start_health(self, input_name: str, hardware_id: str) -> None:
        """Count and time this node's work; publish it on /diagnostics every diagnostics_period."""
        stale = self.param('stale_after_s') if 'stale_after_s' in self._specs else float('inf')
        self.monitor = StageMonitor(input_name, stale)
        self._health_id = hardware_id
        self._health_pub = self.create_publisher(DiagnosticArray, '/diagnostics', DIAGNOSTICS_QOS)
        self._health_timer = self.create_timer(
            self.param('diagnostics_period'), self._publish_health
        )
        self.on_change(
            lambda name, v: (
                setattr(self.monitor, 'stale_after_s', v) if name == 'stale_after_s' else None
            )
        )

    def health_extra(self) -> dict[str, str]:
        """
        Return node-specific values for the health report.

        Also where a node copies in outside counters.
        """
        return {}

    def _publish_health(self) -> None:
        report = self.monitor.report(self.health_extra())
        header = messages.Header()
        header.stamp = self.get_clock().now().to_msg()
        self._health_pub.publish(
            messages.diagnostic_array(
                header,
                f'glass_perception: {self.get_fully_qualified_name()}',
                self._health_id,
                report,
            )
        )

    def record(self, header, started: float) -> None:
        """One item done: its work time (since ``started``, monotonic) and its stamp's age now."""
        now = self.get_clock().now().nanoseconds * 1e-9
        self.monitor.count('processed')
        self.monitor.timing(time.monotonic() - started, now - messages.stamp_seconds(header))

    def reject(self, text: str) -> None:
        """Count and log a malformed message (throttled so a flood cannot drown the log)."""
        if self.monitor is not None:
            self.monitor.count('rejected')
        self.get_logger().warning(text, throttle_duration_sec=2.0)

    def worker_error(self, e: BaseException) -> None:
        """Log a frame a LatestWorker could not process (throttled); the next one goes on."""
        if rclpy.ok():  # after shutdown, a publish that fails is no fault of the frame
            if self.monitor is not None:
                self.monitor.count('errors')
            self.get_logger().error(
                f'frame dropped: {type(e).__name__}: {e}', throttle_duration_sec=2.0
            )

    def param(self, name: str):
        return self.get_parameter(name).value

    def add_check(self, fn: Callable[[str, object], str | None]) -> None:
        self._extra_checks.append(fn)

    def on_change(self, fn: Callable[[str, object], None]) -> None:
        self._on_change.append(fn)

    def _validate_change(self, params) -> SetParametersResult:
        for prm in params:
            spec = self._specs.get(prm.name)
            if spec is None:
                continue
            reason = spec.validate(prm.value)
            for check in self._extra_checks:
                reason = reason or check(prm.name, prm.value)
            if reason:
                self.get_logger().warning(f'refused: {reason}')
                return SetParametersResult(successful=False, reason=reason)
        for prm in params:
            for fn in self._on_change:
                fn(prm.name, prm.value)
        return SetParametersResult(successful=True)


class GlassNode(GlassNodeMixin, Node):
    """A plain node (camera, overlay) with the package's parameters and health."""

    def __init__(self, name: str):
        Node.__init__(self, name)
        self._declare_glass_parameters(name)


class GlassLifecycleNode(GlassNodeMixin, LifecycleNode):
    """
    A model node as a managed (lifecycle) node: what ``ros2 lifecycle set`` and Nav2 drive.

    Subclasses implement ``configure`` (check parameters, load the model, make the lifecycle
    publishers: a failure raises StartupError/ModelLoadError with one line, and the node stays
    unconfigured), ``activate`` (subscriptions and the worker), ``deactivate`` (undo that: inputs
    are released, lifecycle publishers go silent) and ``cleanup`` (free the model). /diagnostics
    stays a plain publisher, so an inactive node still reports. With ``autostart`` (the default)
    ``run`` configures and activates the node at start-up, as the launch file expects.
    """

    def __init__(self, name: str):
        LifecycleNode.__init__(self, name)
        self._declare_glass_parameters(name)
        self.configure_error = ''
        self.active = False
        self.subs: list = []  # what activate made and deactivate releases
        self.worker = None  # the model's LatestWorker, made by configure
        self._lifecycle_pubs: list = []

    def configure(self) -> None:
        raise NotImplementedError

    def activate(self) -> None:
        raise NotImplementedError

    def lifecycle_publisher(self, msg_type, topic: str, qos):
        """Make a lifecycle publisher that cleanup destroys."""
        pub = self.create_lifecycle_publisher(msg_type, topic, qos)
        self._lifecycle_pubs.append(pub)
        return pub

    def deactivate(self) -> None:
        """Release the subscriptions activate made."""
        for sub in self.subs:
            self.destroy_subscription(sub)
        self.subs = []

    def cleanup(self) -> None:
        """Stop the worker and destroy the lifecycle publishers; subclasses then drop the model."""
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        for pub in self._lifecycle_pubs:
            self.destroy_lifecycle_publisher(pub)
        self._lifecycle_pubs = []

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self.configure()
        except (StartupError, ModelLoadError, ValueError) as e:
            # rclpy would turn the exception into ERROR and log nothing: say it in one line
            self.configure_error = str(e)
            self.get_logger().error(f'configure failed: {e}')
            self.cleanup()
            return TransitionCallbackReturn.FAILURE
        self.configure_error = ''
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.activate()
        self.active = True
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.active = False
        self.deactivate()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.cleanup()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self.active:
            self.active = False
            self.deactivate()
        self.cleanup()
        return TransitionCallbackReturn.SUCCESS

    def lifecycle_state(self) -> str:
        """Return the current lifecycle state's label (unconfigured, inactive, active, ...)."""
        return self._state_machine.current_state[1]

    def close(self) -> None:
        if self.active:
            self.active = False
            self.deactivate()
        if self.worker is not None:
            self.worker.stop()


def autostart(node) -> None:
    """Configure and activate a lifecycle node whose ``autostart`` is true; StartupError if not."""
    if not isinstance(node, GlassLifecycleNode) or not node.param('autostart'):
        return
    if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
        raise StartupError(node.configure_error or 'configure failed')
    if node.trigger_activate() != TransitionCallbackReturn.SUCCESS:
        raise StartupError('activate failed')


def fastdds_transport_note() -> str | None:
    """
    Return a warning if Fast DDS will drop large best-effort images between processes.

    None otherwise. Fast DDS drops such images silently.
    """
    if default_transports(os.environ):
        return (
            'Fast DDS runs with its default transports: '
            'best-effort images larger than ~64 KB may never '
            "reach other processes. Set FASTDDS_DEFAULT_PROFILES_FILE to the package's "
            'config/fastdds_large_images.xml (the launch file and '
            'glass-pipeline do) or use another RMW; see docs/troubleshooting.md'
        )
    return None


def run(node_factory: Callable[[], Node], name: str, args=None) -> int:
    """
    Start a node, spin until Ctrl-C / SIGTERM, exit 0; a start-up fault exits 1 with one line.

    SIGINT and SIGTERM only set a flag that the spin loop checks every ``STOP_POLL_S``: nothing is
    raised into the middle of a callback, a lock or rclpy's own bookkeeping (an asynchronous
    KeyboardInterrupt there can leave a lock held and the shutdown hanging). A watchdog ends the
    process ``STOP_DEADLINE_S`` after the signal whatever the clean-up is doing. The process ends
    here (os._exit), without Python's slow interpreter teardown.
    """
    stop = threading.Event()

    def on_signal(_signum, _frame):
        if not stop.is_set():
            stop.set()
            threading.Thread(target=_exit_after, args=(STOP_DEADLINE_S, 0), daemon=True).start()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    node = None
    code = 0
    executor = SingleThreadedExecutor()
    try:
        node = node_factory()
        autostart(node)
        executor.add_node(node)
        while not stop.is_set() and rclpy.ok():
            executor.spin_once(timeout_sec=STOP_POLL_S)
    except ExternalShutdownException:
        pass
    except SystemExit as e:  # a node that is done (a file source at its end without loop)
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except (StartupError, ModelLoadError, ValueError) as e:
        print(f'[{name}] error: {e}', file=sys.stderr, flush=True)
        code = 1
    except Exception:
        # the context was shut down while a callback was still publishing: a clean stop
        if node is None or rclpy.ok():
            raise
    finally:
        executor.shutdown(timeout_sec=0.5)
        if node is not None:
            if hasattr(node, 'close'):
                node.close()
            node.destroy_node()
        rclpy.try_shutdown()
        # The DDS participant goes when the last reference to the context does, and a lifecycle
        # node's references form cycles that only the garbage collector frees. Without dropping
        # them here os._exit below skipped that, and every run of a lifecycle node left its 16 MB
        # Fast DDS shared-memory segment in /dev/shm (22 GB after a day of test runs here).
        node = executor = None
        gc.collect()
    # Everything the node owns is closed now. Python's own teardown of torch and Ultralytics
    # takes another 1-2 s on a busy CPU, which would break the 2 s stop a supervisor expects.
    _exit_after(0.0, code)


def _exit_after(delay_s: float, code: int) -> None:
    time.sleep(delay_s)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
