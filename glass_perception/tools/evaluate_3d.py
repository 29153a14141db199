"""
glass-evaluate-3d: where the glasses are, in cm, against the naive depth method, per class.

  glass-evaluate-3d --scenes work/rgbd/test                 # shipped models and size model
  glass-evaluate-3d --scenes work/rgbd/test --json work/rgbd/test_report.json
  glass-evaluate-3d --scenes work/views/test --distance 0.3 1.3   # steep views and supports
  glass-evaluate-3d --real --draw work/real/3d   # the real RGB-D frames: no truth, drawn

Runs the detector, classifier and localizer code the nodes run on a glass-synth rgbd folder and
prints, per class: glasses, fraction localised on the support surface, base-position error
p50/p95, height and diameter error p50, the share of centre errors inside the covariance's 95 %
ellipsoid, classification accuracy crop-only and fused with size, and in the same run the naive
method's fraction and centre error (median valid depth in the box at the box centre), then the
localizer's time per frame; then by elevation band of the view (15-35, 35-55, 55-75, 75-90
degrees) and by support (table, tray, board, coaster, plate): flagged share and base error on
detected and on true boxes.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys


def build_parser() -> argparse.ArgumentParser:
    from ..core.params import default, DETECTOR

    p = argparse.ArgumentParser(
        prog='glass-evaluate-3d',
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument('--scenes', type=Path, help='a glass-synth rgbd folder')
    what.add_argument(
        '--real',
        nargs='?',
        const='',
        metavar='LABELS',
        help='the labelled real RGB-D frames (no 3D truth): what the localizer reports on their '
        'true boxes, as a table and (--draw) drawn over each frame (default labels: the package '
        'ones)',
    )
    p.add_argument('--draw', type=Path, help='with --real: write each frame, drawn, here')
    p.add_argument('--detector', default='', help='detector weights (default: shipped)')
    p.add_argument(
        '--conf',
        type=float,
        default=default(DETECTOR, 'conf'),
        help="the detector's confidence threshold (default: the node's, %(default)s)",
    )
    p.add_argument('--classifier', default='', help='classifier checkpoint (default: shipped)')
    p.add_argument(
        '--sizes', default='', help='size model (default: beside the classifier checkpoint)'
    )
    p.add_argument('--min-visibility', type=float, default=0.6, help='default: %(default)s')
    p.add_argument(
        '--distance', type=float, nargs=2, default=(0.4, 1.3), help='metres, default: 0.4 1.3'
    )
    p.add_argument(
        '--hidden-foot',
        action='store_true',
        help='switch on the hidden-foot check of the localizer (off by default; model card)',
    )
    p.add_argument('--json', type=Path, help='also write the report (with every glass) here')
    p.add_argument('--threads', type=int, default=1, help='CPU threads (default: 1, as the nodes)')
    return p


def _fmt(v, spec='.2f'):
    return '-' if v is None or v != v else format(v, spec)


def print_report(r: dict) -> None:
    print(
        f'{r["scenes"]} scenes; glasses at least {r["settings"]["min_visibility"]:.0%} visible, '
        f'not cut by the border, {r["settings"]["distance_m"][0]}-'
        f'{r["settings"]["distance_m"][1]} m away; detector conf {r["settings"]["detector_conf"]}'
    )
    head = (
        f'{"class":<11} {"n":>4} {"localised":>9} {"base p50":>8} {"p95":>6} {"height":>7} '
        f'{"diam":>6} {"in 95%":>6} {"crop acc":>8} {"fused":>6} | {"centre p50":>10} '
        f'{"p95":>6} | {"naive loc":>9} {"centre p50":>10} {"p95":>6} | {"true boxes p50":>14}'
    )
    print(head)
    for cls, s in r['per_class'].items():
        print(
            f'{cls:<11} {s["glasses"]:>4} {s["localised_fraction"]:>9.1%} '
            f'{_fmt(s["base_error_cm"]["p50"]):>8} {_fmt(s["base_error_cm"]["p95"]):>6} '
            f'{_fmt(s["height_error_pct_p50"], ".1f"):>6}% '
            f'{_fmt(s["diameter_error_pct_p50"], ".1f"):>5}% '
            f'{_fmt(s["within_95pct_ellipsoid"], ".0%"):>6} '
            f'{_fmt(s["crop_accuracy"], ".1%"):>8} {_fmt(s["fused_accuracy"], ".1%"):>6} | '
            f'{_fmt(s["centre_error_cm"]["p50"]):>10} {_fmt(s["centre_error_cm"]["p95"]):>6} | '
            f'{s["naive_localised_fraction"]:>9.1%} {_fmt(s["naive_centre_error_cm"]["p50"]):>10} '
            f'{_fmt(s["naive_centre_error_cm"]["p95"]):>6} | '
            f'{_fmt(s["true_box_base_error_cm"]["p50"]):>14}'
        )
    print(
        '(errors in cm; height and diameter errors relative; '
        'naive = median valid depth in the box)'
    )
    a = r['per_class'].get('all')
    if a:
        print(
            f'not flagged yet more than 5 cm off: {a["unflagged_over_5cm"]} of '
            f'{a["detected"]} detected, {a["true_box_unflagged_over_5cm"]} of {a["glasses"]} '
            'on the true boxes'
        )
    for title, table in (
        ('elevation of the view above the table (degrees)', r.get('by_elevation')),
        ('what the glass stands on (height from the truth)', r.get('by_support')),
    ):
        if not table:
            continue
        print(f'\nby {title}:')
        print(
            f'{"":<9} {"n":>4} {"found":>5} {"flagged":>7} {"base p50":>8} {"p95":>6} | '
            f'{"true boxes: flagged":>19} {"base p50":>8} {"p95":>6} | {"naive p50":>9}'
        )
        for value, g in table.items():
            print(
                f'{value:<9} {g["glasses"]:>4} {g["detected"]:>5} '
                f'{_fmt(g["flagged_fraction"], ".1%"):>7} '
                f'{_fmt(g["base_error_cm"]["p50"]):>8} {_fmt(g["base_error_cm"]["p95"]):>6} | '
                f'{_fmt(g["true_box_flagged_fraction"], ".1%"):>19} '
                f'{_fmt(g["true_box_base_error_cm"]["p50"]):>8} '
                f'{_fmt(g["true_box_base_error_cm"]["p95"]):>6} | '
                f'{_fmt(g["naive_centre_error_cm"]["p50"]):>9}'
            )
    t, tf, tn = (
        r['localizer_ms_per_frame'],
        r['localizer_fused_ms_per_frame'],
        r['naive_ms_per_frame'],
    )
    print(
        f'localizer per frame: p50 {t["p50"]:.2f} ms, p95 {t["p95"]:.2f} ms; with fusion p50 '
        f'{tf["p50"]:.2f} ms, p95 {tf["p95"]:.2f} ms; naive p50 {tn["p50"]:.2f} ms '
        f'(ratio {tf["p50"] / max(tn["p50"], 1e-9):.0f}x)'
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tqdm import tqdm

    from ..core.errors import ModelLoadError
    from .chain import open_chain, write_report
    from ..core.localizer import LocalizerConfig
    from ..workflow.evaluation_3d import evaluate_3d

    if args.real is not None:
        return _real(args)
    if not (args.scenes / 'truth.json').is_file():
        print(f'glass-evaluate-3d: {args.scenes}: no truth.json (render with glass-synth rgbd)')
        return 2
    try:
        detector, classifier, sizes = open_chain(
            args.detector, args.classifier, args.sizes, args.threads
        )
    except (ModelLoadError, ValueError) as e:
        print(f'glass-evaluate-3d: {e}')
        return 2
    report = evaluate_3d(
        args.scenes,
        detector,
        classifier,
        sizes,
        args.min_visibility,
        tuple(args.distance),
        tqdm,
        conf=args.conf,
        config=LocalizerConfig(check_hidden_foot=True) if args.hidden_foot else None,
    )
    print_report(report)
    if args.json:
        write_report(args.json, report)
    return 0


def _real(args) -> int:
    import cv2

    from .chain import write_report
    from ..core.localizer import Localizer
    from ..core.paths import DEFAULT_CLASSIFIER
    from ..core.sizes import SizeModel, sizes_path
    from ..workflow import real

    try:
        frames = real.load_labels(args.real or real.LABELS)
        classifier = args.classifier or DEFAULT_CLASSIFIER
        sizes_file = Path(args.sizes) if args.sizes else sizes_path(classifier)
        sizes = SizeModel.load(sizes_file) if sizes_file.is_file() else None
        localizer = Localizer(base_ratios=sizes.base_ratio if sizes is not None else None)
        rows = []
        if args.draw:
            args.draw.mkdir(parents=True, exist_ok=True)
        for frame, frame_rows, image in real.localize_real_frames(frames, localizer):
            rows += frame_rows
            if args.draw:
                out = args.draw / (frame['name'].replace('/', '_') + '.jpg')
                cv2.imwrite(str(out), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    except (FileNotFoundError, ValueError) as e:
        print(f'glass-evaluate-3d: {e}')
        return 2
    print(real.format_real_3d(rows))
    if args.json:
        write_report(args.json, {'real_frames': rows})
    return 0


if __name__ == '__main__':
    sys.exit(main())
