"""
glass-soak: run the whole pipeline for a long while under load and say whether it held up.

It is glass-pipeline with soak defaults (camera at 30 fps, 600 s, memory taken after 60 s of
warm-up, the bare models timed first on 30 frames) and a verdict at the end:

* every camera frame accounted for: processed, dropped as stale (latest wins), rejected, or not
  delivered by best-effort DDS, from the nodes' own counters on /diagnostics;
* each node's resident memory growth from the end of warm-up to the end (target: under 5%);
* latency p95 from camera stamp to classification against the single-frame processing time of the
  bare models in this process on this machine (target: at most that + 20 ms, the DDS hops and the
  wait for a busy model; a factor of the bare time, the former target, punishes fast models).

  glass-soak                        # 10 minutes at 30 fps
  glass-soak --duration 60 --fps 15 --report soak.json
Other options are glass-pipeline's (--source, --device, --params, --namespace ...).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
import tempfile

from . import pipeline

MEMORY_GROWTH_LIMIT_PCT = 5.0
LATENCY_MARGIN_MS = 20.0


def verdict(report: dict) -> list[tuple[bool, str]]:
    """Return (passed, line) for each target, from glass-pipeline's report."""
    lines = []
    f = report.get('frames') or {}
    parts = [
        f.get('not_delivered_best_effort'),
        f.get('detector_dropped_stale'),
        f.get('detector_rejected'),
        f.get('detector_processed'),
    ]
    if None not in parts and f.get('camera_published') is not None:
        ok = sum(parts) == f['camera_published'] and min(parts) >= 0
        lines.append(
            (
                ok,
                f'frames: {f["camera_published"]} published = {parts[3]} processed + '
                f'{parts[1]} dropped stale + {parts[2]} rejected + {parts[0]} not delivered',
            )
        )
    else:
        lines.append((False, "frames: a node's counters never arrived on /diagnostics"))
    for name, m in sorted(report.get('memory', {}).items()):
        if m['growth_pct'] is None:
            lines.append(
                (
                    False,
                    f'{name}: no memory figure after warm-up (run longer than --memory-warmup)',
                )
            )
        else:
            lines.append(
                (
                    m['growth_pct'] < MEMORY_GROWTH_LIMIT_PCT,
                    f'{name}: resident memory {m["start_mb"]:.0f} -> {m["end_mb"]:.0f} MiB '
                    f'({m["growth_pct"]:+.1f}%, limit {MEMORY_GROWTH_LIMIT_PCT:.0f}%)',
                )
            )
    bare = (report.get('bare_models') or {}).get('latency_ms', {}).get('p50')
    p95 = report['latency_ms']['p95']
    if bare:
        lines.append(
            (
                p95 <= bare + LATENCY_MARGIN_MS,
                f'latency p95 {p95:.0f} ms = the single-frame time {bare:.0f} ms '
                f'+ {p95 - bare:.0f} ms (limit + {LATENCY_MARGIN_MS:.0f} ms)',
            )
        )
    return lines


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='glass-soak',
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        '--duration', type=float, default=600.0, help='seconds measured after the first frame'
    )
    p.add_argument('--fps', type=float, default=30.0, help='camera frames per second')
    p.add_argument(
        '--memory-warmup', type=float, default=60.0, help='seconds before memory is first taken'
    )
    p.add_argument(
        '--baseline-frames', type=int, default=30, help='frames to time the bare models on'
    )
    p.add_argument('--report', type=Path, help="write glass-pipeline's JSON report here")
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args, rest = p.parse_known_args(argv)
    report_path = args.report or Path(tempfile.mkdtemp(prefix='glass_soak_')) / 'soak.json'
    code = pipeline.main(
        [
            '--quiet',
            '--duration',
            str(args.duration),
            '--fps',
            str(args.fps),
            '--memory-warmup',
            str(args.memory_warmup),
            '--baseline-frames',
            str(args.baseline_frames),
            '--report',
            str(report_path),
            *rest,
        ]
    )
    if not report_path.is_file():
        return code or 1
    lines = verdict(json.loads(report_path.read_text()))
    print('\n=== glass-soak verdict ===')
    for ok, line in lines:
        print(f'{"PASS" if ok else "FAIL"}  {line}')
    print(f'report: {report_path}')
    return code or (0 if all(ok for ok, _ in lines) else 1)


if __name__ == '__main__':
    sys.exit(main())
