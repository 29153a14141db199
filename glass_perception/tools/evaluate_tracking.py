"""
glass-evaluate-tracking: ids, labels and positions over time on RGB-D sequences (motmetrics).

  glass-evaluate-tracking --sequences work/sequences/test      # held-out seed 9401
  glass-evaluate-tracking --sequences glass_perception/data/sequences --json work/track.json

Runs the detector, tracker, classifier and localizer code the nodes run (their default
parameters) on glass-synth sequences folders and prints: per tracker algorithm MOTA, IDF1, id
switches, precision, recall and time per frame (py-motmetrics, on the same detections); for the
default tracker, label flips per 100 track-frames and accuracy per class after a track's first
frames, frame by frame and smoothed, 2D and fused 3D; glass-track-frames not marked fragile; and
the 3D jitter of the static glasses (RMS distance from the track's mean in the world frame) raw
and smoothed, with their base errors.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='glass-evaluate-tracking',
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        '--sequences',
        type=Path,
        required=True,
        help='a glass-synth sequences folder, or one sequence',
    )
    p.add_argument('--detector', default='', help='detector model (default: shipped)')
    p.add_argument('--classifier', default='', help='classifier model (default: shipped)')
    p.add_argument('--min-visibility', type=float, default=0.3, help='default: %(default)s')
    p.add_argument('--warmup', type=int, default=5, help='frames of a track not scored for labels')
    p.add_argument('--json', type=Path, help='also write the report (every track-frame) here')
    p.add_argument('--threads', type=int, default=1, help='CPU threads (default: 1, as the nodes)')
    return p


def _f(v, spec='.3f'):
    return '-' if v is None else format(v, spec)


def print_report(r: dict) -> None:
    print(f'{len(r["sequences"])} sequences, {r["frames"]} frames')
    print(
        f'{"tracker":<10} {"MOTA":>6} {"IDF1":>6} {"id sw":>6} {"prec":>6} {"recall":>6} '
        f'{"frag":>5} {"ms/frame":>8}'
    )
    for name, t in r['trackers'].items():
        o = t['OVERALL']
        mark = ' (default)' if name == r['settings']['default_tracker'] else ''
        print(
            f'{name:<10} {o["mota"]:>6.3f} {o["idf1"]:>6.3f} {o["num_switches"]:>6.0f} '
            f'{o["precision"]:>6.3f} {o["recall"]:>6.3f} {o["num_fragmentations"]:>5.0f} '
            f'{t["ms_per_frame"]:>8.2f}{mark}'
        )
    lab = r['labels']
    print(
        f'labels on {lab["frame_label"]["track_frames"]} matched track-frames; accuracy after '
        f"a track's first {r['settings']['warmup_frames']} frames"
    )
    print(
        f'{"":<22} {"flips":>6} {"/100":>6} '
        + ' '.join(f'{c:>11}' for c in lab['frame_label']['per_class'])
    )
    for key, name in (
        ('frame_label', '2D frame by frame'),
        ('smoothed_label', '2D smoothed'),
        ('fused_label', '3D fused, frame'),
        ('fused_smoothed_label', '3D fused, smoothed'),
    ):
        s = lab[key]
        accs = ' '.join(f'{_f(c["accuracy"], ".1%"):>11}' for c in s['per_class'].values())
        print(f'{name:<22} {s["flips"]:>6} {s["flips_per_100"]:>6.2f} {accs}')
    f = lab['fragile_missed']
    print(
        f'glass track-frames not fragile: {f["frame_by_frame"]} frame by frame, {f["latched"]} '
        f'latched, of {f["glass_track_frames"]}'
    )
    for phase, what in (('holding', 'arm holding still'), ('moving', 'whole sequences')):
        j = r['jitter'][phase]
        if not j['tracks']:
            print(f'static-glass jitter, {what}: no track long enough')
            continue
        e = j['base_error_cm']
        print(
            f'static-glass jitter, {what}, {j["tracks"]} tracks (RMS 3D, world frame): raw p50 '
            f'{j["raw_mm"]["p50"]:.1f} mm p90 {j["raw_mm"]["p90"]:.1f}; smoothed p50 '
            f'{j["smoothed_mm"]["p50"]:.1f} mm p90 {j["smoothed_mm"]["p90"]:.1f} '
            f'({j["ratio_p50"]:.1f}x lower); base error raw p50 {e["raw"]["p50"]:.2f} cm '
            f'p95 {e["raw"]["p95"]:.2f}, smoothed p50 {e["smoothed"]["p50"]:.2f} cm '
            f'p95 {e["smoothed"]["p95"]:.2f}'
        )
    t = r['localizer_ms_per_frame']
    print(
        f'localizer per frame: raw p50 {t["raw"]["p50"]:.1f} ms, smoothed p50 '
        f'{t["smoothed"]["p50"]:.1f} ms'
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tqdm import tqdm

    from ..core.errors import ModelLoadError
    from .chain import open_chain, write_report
    from ..workflow.evaluation_tracking import evaluate_tracking
    from ..workflow.sequences import sequence_folders

    folders = sequence_folders(args.sequences)
    if not folders:
        print(
            f'glass-evaluate-tracking: {args.sequences}: no sequence.json (glass-synth sequences)'
        )
        return 2
    try:
        detector, classifier, sizes = open_chain(args.detector, args.classifier, '', args.threads)
    except (ModelLoadError, ValueError) as e:
        print(f'glass-evaluate-tracking: {e}')
        return 2
    report = evaluate_tracking(
        folders, detector, classifier, sizes, args.min_visibility, args.warmup, progress=tqdm
    )
    print_report(report)
    if args.json:
        write_report(args.json, report)
    return 0


if __name__ == '__main__':
    sys.exit(main())
