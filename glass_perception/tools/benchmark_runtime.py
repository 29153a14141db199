"""
glass-benchmark-runtime: the inference backends side by side, and the model nodes' memory by state.

  glass-benchmark-runtime                       # torch vs ONNX Runtime (vs OpenVINO if installed)
  glass-benchmark-runtime --frames 100 --lifecycle

Each backend runs in its own fresh process on the shipped RGB-D frames, one thread a model as the
nodes run: it prints per-frame work time p50/p95 of the detector (imgsz 480) and the classifier
(the frame's crops), resident memory and start-up time (process start to the first classified
frame), and each figure's ratio to the torch path in the same run. With --lifecycle it also
starts detector_node, classifier_node and localizer_node as real processes with autostart false
and reports each one's resident memory unconfigured, inactive (model loaded), active and after
cleanup, driving the transitions through the lifecycle services.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time

from ..workflow.runtime_benchmark import BACKENDS


def _backend(name: str, frames: int) -> dict:
    started = time.time()
    out = subprocess.run(
        [sys.executable, '-m', 'glass_perception.workflow.runtime_benchmark', name, str(frames),
         repr(started)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if out.returncode != 0:
        return {'backend': name, 'error': out.stderr.strip().splitlines()[-1][:200]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def _rss(pid: int) -> float:
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024.0
    return float('nan')


def lifecycle_memory(params) -> dict:
    """Return each model node's resident memory (MiB) per lifecycle state."""
    import rclpy
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState

    from .fuzz import setup_env
    from .pipeline import node_command

    setup_env(None)
    rclpy.init()
    probe = rclpy.create_node(f'glass_benchmark_{os.getpid()}')
    out = {}
    try:
        for name in ('detector_node', 'classifier_node', 'localizer_node'):
            proc = subprocess.Popen(
                node_command(name, params, '', {'autostart': False}),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            client = probe.create_client(ChangeState, f'{name}/change_state')
            client.wait_for_service(timeout_sec=60)
            time.sleep(1.0)
            row = {'unconfigured': _rss(proc.pid)}
            for label, t in (
                ('inactive', Transition.TRANSITION_CONFIGURE),
                ('active', Transition.TRANSITION_ACTIVATE),
                ('deactivated', Transition.TRANSITION_DEACTIVATE),
                ('cleaned_up', Transition.TRANSITION_CLEANUP),
            ):
                req = ChangeState.Request()
                req.transition.id = t
                future = client.call_async(req)
                rclpy.spin_until_future_complete(probe, future, timeout_sec=60)
                time.sleep(1.0)
                row[label] = _rss(proc.pid)
            out[name] = row
            proc.terminate()
            proc.wait(10)
    finally:
        probe.destroy_node()
        rclpy.try_shutdown()
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='glass-benchmark-runtime',
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument('--frames', type=int, default=80, help='frames per backend (default 80)')
    p.add_argument('--lifecycle', action='store_true', help='also memory per lifecycle state')
    p.add_argument('--json', help='write the figures here too')
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    backends = [b for b in BACKENDS if b != 'openvino' or importlib.util.find_spec('openvino')]
    rows = [_backend(b, args.frames) for b in backends]
    ref = next((r for r in rows if r['backend'] == 'torch' and 'error' not in r), None)
    print(
        f"{'backend':<12} {'detector p50/p95 ms':>20} {'classifier p50/p95 ms':>22} "
        f"{'RSS start/end MiB':>18} {'start-up s':>10} {'torch?':>6}  ratio to torch (det, RSS)"
    )
    for r in rows:
        if 'error' in r:
            print(f"{r['backend']:<12} failed: {r['error']}")
            continue
        d, c = r['detector_ms'], r['classifier_ms']
        ratio = ''
        if ref:
            ratio = (
                f"{ref['detector_ms']['p50'] / d['p50']:.2f}x faster, "
                f"{r['rss_mib_end'] / ref['rss_mib_end']:.2f}x the memory"
            )
        print(
            f"{r['backend']:<12} {d['p50']:>9.1f} / {d['p95']:<8.1f} {c['p50']:>10.1f} / "
            f"{c['p95']:<9.1f} {r['rss_mib_after_start']:>7.0f} / {r['rss_mib_end']:<7.0f} "
            f"{r['startup_s']:>10.2f} {str(r['torch_imported']):>6}  {ratio}"
        )
    report = {'backends': rows}
    if args.lifecycle:
        from ..core.paths import share_dir

        mem = lifecycle_memory(share_dir() / 'config' / 'params.yaml')
        report['lifecycle_rss_mib'] = mem
        print('resident memory (MiB) by lifecycle state, default (ONNX) models:')
        for name, row in mem.items():
            print(f'  {name:<16} ' + ', '.join(f'{k} {v:.0f}' for k, v in row.items()))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
