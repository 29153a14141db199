"""
glass-evaluate-detector: which glasses the detector finds at the node's thresholds.

  glass-evaluate-detector --scenes work/rgbd/test                       # shipped ONNX detector
  glass-evaluate-detector --scenes work/wide/det --split test --json work/wide/det_test.json
  glass-evaluate-detector --scenes work/rgbd/test --imgsz 320 480 640  # recall against time
  glass-evaluate-detector --real                          # the labelled real RGB-D frames
  glass-evaluate-detector --photos ../shared/real/coco128 # photographs with COCO YOLO labels

Runs every frame as detector_node does (conf, iou, max_det, cross-class duplicate removal,
crop_classes) and prints, per class (cup, beer_glass, soju_glass): recall for glasses at least
--min-visibility visible, not cut by the border and --min-height pixels tall, the same split by
visible height and by distance, precision per detector class, false detections per frame by kind
of table, and the detector's time per frame. Several --imgsz need a .pt or a dynamic ONNX
(glass-export-detector --dynamic).

--real scores the real RGB-D frames this project labelled (glass_perception/data/real/labels.json,
frames from shared/real or $GLASS_REAL_DIR): drinking glasses and cups found by a cup or wine-glass
box, transparent bottles and containers by a box of any detector class, false cup/wine-glass boxes
per frame. --photos scores a folder of photographs with YOLO labels in COCO class ids (cups and
wine glasses found, false boxes per image); a COCO-initialised detector has trained on COCO128,
so its figures there are training-set figures.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys

from tqdm import tqdm


def build_parser() -> argparse.ArgumentParser:
    from .chain import add_real_options
    from ..core.params import default, DETECTOR

    p = argparse.ArgumentParser(
        prog='glass-evaluate-detector',
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument('--scenes', type=Path, help='a glass-synth detect or rgbd folder')
    add_real_options(
        p,
        real_help='score the labelled real RGB-D frames',
        photos_help='a YOLO folder of photographs with COCO class ids',
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
    parser = build_parser()
    args = parser.parse_args(argv)
    if not (args.scenes or args.photos or args.real is not None):
        parser.error('give --scenes, --real or --photos')
    from .chain import write_report
    from ..core.cpu import set_threads
    from ..core.detector import Detector
    from ..core.errors import ModelLoadError
    from ..core.paths import DEFAULT_DETECTOR
    from ..workflow import real
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
        reports[str(size)] = {}
        try:
            if args.scenes:
                report = evaluate_detector(
                    args.scenes,
                    det,
                    args.split,
                    args.min_visibility,
                    args.min_height,
                    progress=lambda it: tqdm(it, desc=f'imgsz {size}', unit='scene'),
                    conf=args.conf,
                )
                print(format_report(report), flush=True)
                reports[str(size)].update(report)
            if args.real is not None:
                frames = real.load_labels(args.real or real.LABELS)
                report = real.evaluate_real_frames(frames, det, args.conf)
                print(real.format_real_report(report), flush=True)
                reports[str(size)]['real'] = report
            if args.photos:
                report = real.evaluate_photos(args.photos, det, args.conf)
                print(real.format_photo_report(report, args.photos), flush=True)
                reports[str(size)]['photos'] = report
        except (FileNotFoundError, ValueError) as e:
            print(f'glass-evaluate-detector: {e}', file=sys.stderr)
            return 2
    if args.json:
        write_report(
            args.json,
            {
                'scenes': str(args.scenes),
                'split': args.split,
                'photos': str(args.photos),
                'detector': args.detector or str(DEFAULT_DETECTOR),
                **reports,
            },
        )
    return 0


if __name__ == '__main__':
    sys.exit(main())
