"""
glass-evaluate-detector: which glasses the detector finds at the node's thresholds.

  glass-evaluate-detector --scenes work/rgbd/test                       # shipped ONNX detector
  glass-evaluate-detector --scenes work/wide/det --split test --json work/wide/det_test.json
  glass-evaluate-detector --scenes work/rgbd/test --imgsz 320 480 640  # recall against time

Runs every frame as detector_node does (conf, iou, max_det, cross-class duplicate removal,
crop_classes) and prints, per class (cup, beer_glass, soju_glass): recall for glasses at least
--min-visibility visible, not cut by the border and --min-height pixels tall, the same split by
visible height and by distance, precision per detector class, false detections per frame by kind
of table, and the detector's time per frame. Several --imgsz need a .pt or a dynamic ONNX
(glass-export-detector --dynamic).
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys

from tqdm import tqdm


def build_parser() -> argparse.ArgumentParser:
    from ..core.params import default, DETECTOR

    p = argparse.ArgumentParser(
        prog='glass-evaluate-detector',
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        '--scenes', type=Path, required=True, help='a glass-synth detect or rgbd folder'
    )
    p.add_argument('--split', default='test', help='of a detect folder (default: test)')
    p.add_argument('--detector', default='', help='detector weights (default: shipped)')
    p.add_argument(
        '--imgsz',
        type=int,
        nargs='+',
        default=[default(DETECTOR, 'imgsz')],
        help="input sizes to run at (default: the node's)",
    )
    p.add_argument(
        '--runtime',
        default='onnxruntime',
        choices=('onnxruntime', 'openvino', 'auto'),
        help='what runs an .onnx detector',
    )
    p.add_argument(
        '--conf',
        type=float,
        default=default(DETECTOR, 'conf'),
        help="confidence threshold (default: the node's, %(default)s)",
    )
    p.add_argument('--min-visibility', type=float, default=0.6, help='default: %(default)s')
    p.add_argument('--min-height', type=float, default=24.0, help='pixels, default: %(default)s')
    p.add_argument('--threads', type=int, default=1, help='CPU threads (default: 1, as the nodes)')
    p.add_argument('--json', type=Path, help='also write the reports (with every glass) here')
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .chain import write_report
    from ..core.cpu import set_threads
    from ..core.detector import Detector
    from ..core.errors import ModelLoadError
    from ..core.paths import DEFAULT_DETECTOR
    from ..workflow.evaluation_detector import evaluate_detector, format_report

    set_threads(args.threads)
    reports = {}
    for size in args.imgsz:
        try:
            det = Detector(
                args.detector or str(DEFAULT_DETECTOR),
                imgsz=size,
                threads=args.threads,
                runtime=args.runtime,
            )
        except (ModelLoadError, ValueError) as e:
            print(f'glass-evaluate-detector: {e}', file=sys.stderr)
            return 2
        if det.imgsz != size:
            print(
                f'glass-evaluate-detector: {det.source} runs only at {det.imgsz}: for imgsz '
                f'{size}, give the .pt or an ONNX export with --dynamic',
                file=sys.stderr,
            )
            return 2
        try:
            report = evaluate_detector(
                args.scenes,
                det,
                args.split,
                args.min_visibility,
                args.min_height,
                progress=lambda it: tqdm(it, desc=f'imgsz {size}', unit='scene'),
                conf=args.conf,
            )
        except FileNotFoundError as e:
            print(f'glass-evaluate-detector: {e}', file=sys.stderr)
            return 2
        print(format_report(report), flush=True)
        reports[str(size)] = report
    if args.json:
        write_report(args.json, {'scenes': str(args.scenes), 'split': args.split, **reports})
    return 0


if __name__ == '__main__':
    sys.exit(main())
