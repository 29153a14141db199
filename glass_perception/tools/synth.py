"""
glass-synth: render synthetic glassware as training data, deterministic from a seed.

  glass-synth classify --out work/crops/train --seed 1 --scenes 1500
  glass-synth detect   --out work/det --seed 101 --scenes 800 --split train
  glass-synth rgbd     --out work/rgbd/test --seed 9301 --scenes 150   # RGB-D, the camera plays it
  glass-synth rgbd     --out work/rgbd/views --seed 9702 --scenes 200 --look-down 15 90 \
      --supports 0.5   # wrist views to straight down; trays, boards, coasters, plates
  glass-synth rgbd     --out work/steep/rgbd_117 --seed 117 --scenes 100 --look-down 15 90 \
      --supports 0.3 --clutter 0.8   # + boxes, phone cases, fruit, ... beside the glasses
  glass-synth rgbd     --out work/s12/rgbd_134 --seed 134 --scenes 100 --look-down 15 90 \
      --clutter 0.8 --lying 0.4   # + glasses, bottles and cups knocked over on their side
  glass-synth sequences --out work/sequences/test --seed 9401 --sequences 6 --frames 40  # ids
  glass-synth detect   --out work/tiny --seed 5 --scenes 4 --quality preview \
      --width 160 --height 120
  glass-synth detect   --out work/wide --seed 111 --scenes 500 --split train --variety wide \
      --families train   # the wide generator, held-out shape families and photographs left out
  glass-synth crops    --from work/det --split train --out work/crops/train   # no second render
  glass-synth crops    --from work/det --split train2 --out work/crops/det_train2 \
      --detector glass_perception/models/glass_yolov5n_coco.pt  # cut around detected boxes
  glass-synth yolo     --from work/rgbd/train --out work/det --split rgbd   # RGB-D frames as YOLO

'detect' can be interrupted: run the same command again and it goes on where it stopped.

The default renderer, pbr, path traces every scene with Mitsuba 3 (refraction, reflections,
liquids; a few seconds a scene at 640x480 on 2 cores with --quality fast); --renderer fast
uses the 2.5-D generator that the camera node's synthetic source draws with.

Use different seeds for training, validation and test: a stream is a pure function of its seed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys

from tqdm import tqdm

from ..core.errors import ModelLoadError
from ..core.params import default, DETECTOR
from ..workflow.clutter import CLUTTER_KINDS
from ..workflow.datasets import (
    crops_from_detection,
    detection_split_from_rgbd,
    export_classification,
    export_detection,
    RENDERERS,
    scene_renderer,
)
from ..workflow.pbr import QUALITIES, VARIETIES
from ..workflow.rgbd import LOOK_DOWN_DEG
from ..workflow.variety import FAMILY_SETS


def _detector_boxes(args):
    """
    Return the image -> boxes function of ``--detector``.

    It uses the node's Detector, its crop classes and thresholds.
    """
    from ..core.detector import Detector

    classes = set(default(DETECTOR, 'crop_classes'))
    det = Detector(args.detector, imgsz=args.imgsz)
    return lambda image: [
        d.box
        for d in det.detect(
            image, args.conf, default(DETECTOR, 'iou'), default(DETECTOR, 'max_det')
        )
        if d.class_name in classes
    ]


def _rgbd(args) -> int:
    try:
        from ..workflow.pbr import load_mitsuba

        load_mitsuba()
    except ImportError as e:
        print(
            f'glass-synth: rgbd scenes need Mitsuba 3 ({e}); pip install mitsuba', file=sys.stderr
        )
        return 2
    from ..workflow.rgbd import export_rgbd

    try:
        n = export_rgbd(
            args.out,
            args.seed,
            args.scenes,
            args.quality,
            progress=lambda it: tqdm(it, desc='pbr rgbd', unit='scene'),
            variety=args.variety,
            family_set=args.families,
            look_down=tuple(args.look_down),
            supports=args.supports,
            clutter=args.clutter,
            clutter_kinds=tuple(args.clutter_kinds),
            lying=args.lying,
        )
    except ValueError as e:
        print(f'glass-synth: {e}', file=sys.stderr)
        return 2
    print(json.dumps({'out': str(args.out), 'scenes': n}))
    return 0


def _sequences(args) -> int:
    try:
        from ..workflow.pbr import load_mitsuba

        load_mitsuba()
    except ImportError as e:
        print(f'glass-synth: sequences need Mitsuba 3 ({e}); pip install mitsuba', file=sys.stderr)
        return 2
    from ..workflow.sequences import export_sequence

    folders = []
    try:
        for index in range(args.first, args.first + args.sequences):
            folders.append(
                export_sequence(
                    args.out,
                    args.seed,
                    index,
                    args.frames,
                    args.quality,
                    progress=lambda it, i=index: tqdm(it, desc=f'sequence {i}', unit='frame'),
                )
            )
    except ValueError as e:
        print(f'glass-synth: {e}', file=sys.stderr)
        return 2
    print(json.dumps({'out': str(args.out), 'sequences': [str(f) for f in folders]}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='glass-synth',
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest='what', required=True)
    c = sub.add_parser(
        'classify', help='square crops in class folders (cup, beer_glass, soju_glass)'
    )
    k = sub.add_parser(
        'crops', help="classification crops cut from scenes that 'detect' or 'rgbd' rendered"
    )
    k.add_argument(
        '--from',
        dest='det',
        type=Path,
        required=True,
        help='the detect --out folder (with --split), or an rgbd --out folder',
    )
    k.add_argument('--split', default='train', help='the detect split (not for rgbd folders)')
    k.add_argument('--out', type=Path, required=True)
    k.add_argument('--seed', type=int, default=0, help='seed of the simulated box error')
    k.add_argument(
        '--detector',
        default=None,
        metavar='MODEL',
        help='cut each glass around the box this detector finds for it (as the node does at run '
        "time, with its real box error) instead of the jittered true box; '' = the shipped "
        'detector. Use scenes the detector was not trained on',
    )
    k.add_argument(
        '--imgsz',
        type=int,
        default=default(DETECTOR, 'imgsz'),
        help='with --detector: its input size',
    )
    k.add_argument(
        '--conf',
        type=float,
        default=default(DETECTOR, 'conf'),
        help='with --detector: its confidence threshold',
    )
    k.add_argument(
        '--min-iou',
        type=float,
        default=0.5,
        help='with --detector: the IoU a detected box needs to stand for a glass',
    )
    for s in (c, k):
        s.add_argument('--crop-size', type=int, default=96)
        s.add_argument('--crop-padding', type=float, default=0.1)
        s.add_argument(
            '--box-jitter', type=float, default=0.05, help='simulated detector box error'
        )
    y = sub.add_parser(
        'yolo', help="add an 'rgbd' folder's colour frames to a YOLO dataset as one more split"
    )
    y.add_argument('--from', dest='rgbd', type=Path, required=True, help='the rgbd --out folder')
    y.add_argument('--out', type=Path, required=True, help='the YOLO dataset (detect --out)')
    y.add_argument(
        '--split', required=True, help='the split to write (images/SPLIT, labels/SPLIT)'
    )
    r = sub.add_parser(
        'rgbd',
        help='RGB-D scenes (colour, depth as an active-stereo camera sees glass, calibration, '
        '3D truth) in the rgbd:DIR layout the camera plays',
    )
    r.add_argument('--out', type=Path, required=True)
    r.add_argument('--seed', type=int, required=True)
    r.add_argument('--scenes', type=int, default=40)
    r.add_argument('--quality', choices=list(QUALITIES), default='fast')
    r.add_argument(
        '--look-down',
        type=float,
        nargs=2,
        default=LOOK_DOWN_DEG,
        metavar=('MIN', 'MAX'),
        help='camera elevation above the table, degrees, drawn uniformly (90: straight down, a '
        'wrist camera before a grasp); default: %(default)s',
    )
    r.add_argument(
        '--supports',
        type=float,
        default=0.0,
        metavar='P',
        help='share of scenes with a tray, board, coaster or plate (3-40 mm) under some of the '
        'objects; default: %(default)s',
    )
    r.add_argument(
        '--clutter',
        type=float,
        default=0.0,
        metavar='P',
        help='share of scenes with one to three opaque unlabelled things beside the glasses '
        '(boxes, phone cases, fruit: what a detector must not call a cup); default: %(default)s',
    )
    r.add_argument(
        '--clutter-kinds',
        nargs='+',
        default=list(CLUTTER_KINDS),
        metavar='KIND',
        help='what clutter is drawn from: %(default)s',
    )
    r.add_argument(
        '--lying',
        type=float,
        default=0.0,
        metavar='P',
        help='chance that each glass, bottle or cup without a handle lies on its side, emptied '
        '(knocked over; left out of glass-evaluate-3d); default: %(default)s',
    )
    q = sub.add_parser(
        'sequences',
        help='RGB-D sequences of a moving camera with ground-truth ids, one rgbd:DIR folder each',
    )
    q.add_argument('--out', type=Path, required=True)
    q.add_argument('--seed', type=int, required=True)
    q.add_argument('--sequences', type=int, default=6)
    q.add_argument('--first', type=int, default=0, help='index of the first sequence')
    q.add_argument('--frames', type=int, default=40)
    q.add_argument('--quality', choices=list(QUALITIES), default='fast')
    d = sub.add_parser('detect', help='scenes with YOLO labels named as in COCO')
    d.add_argument('--split', default='train')
    for s in (c, d):
        s.add_argument('--out', type=Path, required=True)
        s.add_argument('--seed', type=int, required=True)
        s.add_argument('--scenes', type=int, default=200)
        s.add_argument('--width', type=int, default=640)
        s.add_argument('--height', type=int, default=480)
        s.add_argument(
            '--renderer',
            choices=RENDERERS,
            default='pbr',
            help='pbr: Mitsuba path tracer; fast: the 2.5-D generator',
        )
        s.add_argument(
            '--quality',
            choices=list(QUALITIES),
            default='default',
            help='pbr samples per pixel and path depth: preview (tests), fast, default, high',
        )
    for s in (c, d, r):
        s.add_argument(
            '--variety',
            choices=VARIETIES,
            default='classic',
            help='pbr recipes: classic (what the models up to stage 5 saw) or wide (more shape '
            'families, photographed tables and walls, coloured lights, camera effects, 0.3-1.5 m; '
            'needs scikit-image)',
        )
        s.add_argument(
            '--families',
            choices=FAMILY_SETS,
            default='all',
            help="with --variety wide: 'train' leaves out the held-out shape families and "
            "photographs, 'unseen' draws its glassware only from them",
        )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.what == 'crops':
        try:
            boxes = None if args.detector is None else _detector_boxes(args)
            counts = crops_from_detection(
                args.det,
                args.split,
                args.out,
                args.crop_size,
                args.crop_padding,
                args.box_jitter,
                args.seed,
                progress=lambda it: tqdm(it, desc='crops', unit='scene'),
                boxes=boxes,
                min_iou=args.min_iou,
            )
        except (FileNotFoundError, ModelLoadError, ValueError) as e:  # ValueError: crops.json
            print(f'glass-synth: {e}', file=sys.stderr)
            return 2
        print(json.dumps({'out': str(args.out), 'crops': counts}))
        return 0
    if args.what == 'yolo':
        try:
            n = detection_split_from_rgbd(args.rgbd, args.out, args.split)
        except FileNotFoundError as e:
            print(f'glass-synth: {e}', file=sys.stderr)
            return 2
        print(json.dumps({'out': str(args.out), 'split': args.split, 'objects': n}))
        return 0
    if args.what == 'rgbd':
        return _rgbd(args)
    if args.what == 'sequences':
        return _sequences(args)
    try:
        renderer = scene_renderer(args.renderer, args.quality, args.variety, args.families)
    except ImportError as e:
        print(
            f'glass-synth: the pbr renderer needs Mitsuba 3 (and --variety wide scikit-image): '
            f'{e}; or use --renderer fast',
            file=sys.stderr,
        )
        return 2
    except ValueError as e:
        print(f'glass-synth: {e}', file=sys.stderr)
        return 2
    progress = lambda it: tqdm(it, desc=f'{args.renderer} {args.what}', unit='scene')  # noqa: E731
    if args.what == 'classify':
        counts = export_classification(
            args.out,
            args.seed,
            args.scenes,
            args.crop_size,
            args.crop_padding,
            args.width,
            args.height,
            args.box_jitter,
            progress=progress,
            renderer=renderer,
        )
        print(json.dumps({'out': str(args.out), 'crops': counts}))
    else:
        settings = {
            'renderer': args.renderer,
            **({'quality': args.quality} if args.renderer == 'pbr' else {}),
            **(
                {'variety': args.variety, 'families': args.families}
                if args.variety != 'classic'
                else {}
            ),
        }
        try:
            n = export_detection(
                args.out,
                args.seed,
                args.scenes,
                args.split,
                args.width,
                args.height,
                progress=progress,
                renderer=renderer,
                settings=settings,
            )
        except ValueError as e:
            print(f'glass-synth: {e}', file=sys.stderr)
            return 2
        print(
            json.dumps({'out': str(args.out), 'objects': n, 'data': str(args.out / 'data.yaml')})
        )
    return 0


if __name__ == '__main__':
    sys.exit(main())
