"""
Fixtures for tests that run the nodes as real processes talking over real DDS.

Every test session gets its own ROS_DOMAIN_ID (and discovery limited to this host), so parallel
or repeated runs on one machine cannot hear each other.
"""

from __future__ import annotations

import os
from pathlib import Path
import signal
import subprocess
import sys
import time

from glass_perception.core.dds import clean_shared_memory, describe
from glass_perception.tools.fuzz import setup_env
import pytest

ROOT = Path(__file__).resolve().parents[2]
PARAMS = ROOT / 'config' / 'params.yaml'

# A random domain, discovery on this host, the large-image transport: as glass-fuzz sets up.
# (GLASS_TEST_DOMAIN_ID picks the domain, to re-run a failure on the one the summary names)
_domain = setup_env(
    int(os.environ['GLASS_TEST_DOMAIN_ID']) if os.environ.get('GLASS_TEST_DOMAIN_ID') else None
)


@pytest.fixture(scope='session', autouse=True)
def _clean_shared_memory():
    """
    Remove the shared memory of the processes the tests kill on purpose, after the session.

    A killed participant cannot remove its Fast DDS segment (16 MB of RAM in /dev/shm); on a
    machine that runs the suite many times those add up.
    """
    yield
    clean_shared_memory()


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(
        f'integration tests ran on ROS_DOMAIN_ID={_domain} (GLASS_TEST_DOMAIN_ID={_domain} '
        f'repeats it), {describe(os.environ)}'
    )


class NodeProcess:
    def __init__(self, name: str, log: Path, args: list[str]):
        self.name, self.log = name, log
        self._log_file = open(log, 'wb')
        self.proc = subprocess.Popen(
            [sys.executable, '-m', f'glass_perception.nodes.{name}', *args],
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )

    def output(self) -> str:
        if not self._log_file.closed:
            self._log_file.flush()
        return self.log.read_text(errors='replace')

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_output(self, text: str, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if text in self.output():
                return True
            if not self.alive():
                return text in self.output()
            time.sleep(0.2)
        return False

    def stop(self, sig=signal.SIGINT, timeout: float = 10.0) -> int | None:
        if self.alive():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        self._log_file.close()
        return self.proc.returncode


@pytest.fixture
def start_node(tmp_path):
    """
    Yield a function that starts nodes, each stopped at teardown.

    ``start_node(name, params={...}, remaps={...}, namespace='')`` returns a NodeProcess.
    """
    started: list[NodeProcess] = []

    def start(
        name: str,
        params: dict | None = None,
        remaps: dict | None = None,
        namespace: str = '',
        params_file: Path | None = PARAMS,
    ) -> NodeProcess:
        args = ['--ros-args', '-r', f'__node:={name}']
        if params_file:
            args += ['--params-file', str(params_file)]
        if namespace:
            args += ['-r', f'__ns:={namespace}']
        for k, v in (remaps or {}).items():
            args += ['-r', f'{k}:={v}']
        for k, v in (params or {}).items():
            if isinstance(v, str):
                v = "'" + v + "'"
            elif isinstance(v, bool):
                v = 'true' if v else 'false'
            elif isinstance(v, list):
                v = '[' + ','.join(f"'{x}'" for x in v) + ']'
            args += ['-p', f'{k}:={v}']
        node = NodeProcess(name, tmp_path / f'{name}_{len(started)}.log', args)
        started.append(node)
        return node

    yield start
    for n in started:
        n.stop(signal.SIGKILL if not n.alive() else signal.SIGINT)


@pytest.fixture
def ros_node():
    """Yield an rclpy node in the test process (same ROS_DOMAIN_ID as the started nodes)."""
    import rclpy

    rclpy.init()
    node = rclpy.create_node(f'test_probe_{os.getpid()}')
    yield node
    node.destroy_node()
    rclpy.try_shutdown()


def spin_until(node, predicate, timeout: float) -> bool:
    import rclpy

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.1)
        if predicate():
            return True
    return predicate()
