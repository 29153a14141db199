"""
glass-pretrained: the pretrained starting points, converted and checked against their originals.

  glass-pretrained yolov5 --out work/yolov5n_coco.pt --onnx work/yolov5n_coco.onnx
  glass-pretrained check-yolov5 --images ../shared/real/coco128/images
  glass-pretrained check-mobilenet --images ../shared/real/coco128/images

``yolov5`` reads the official COCO YOLOv5n (``$GLASS_PRETRAINED_DIR``, ``shared/weights``, else
downloaded; SHA-256 checked; unpickled with an allow-list, nothing in it run) and writes it as
the project's YOLOv5 model (Ultralytics checkpoint, optionally ONNX) with the detector's COCO
classes (``--classes all`` keeps the 80).

``check-yolov5`` runs the original network (the ``yolov5`` package from PyPI, which this
project's setup installs apart, in ``.venv/reference``) and the converted one on the same
images, both with YOLOv5's own NMS, and reports how many detections agree (same class, IoU >=
0.9, score within 0.01). ``check-mobilenet`` compares the converted float MobileNetV2 with the
TFLite model run by LiteRT's interpreter: the share of images with the same top-1 ImageNet
class, with TensorFlow's padding and with torchvision's.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png')


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='glass-pretrained',
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest='command', required=True)
    y = sub.add_parser('yolov5', help='convert the COCO YOLOv5n checkpoint')
    y.add_argument('--weights', type=Path, help='yolov5n.pt (default: found or downloaded)')
    y.add_argument('--classes', default='detector', choices=('detector', 'all'))
    y.add_argument('--out', type=Path, required=True, help='the Ultralytics checkpoint to write')
    y.add_argument('--onnx', type=Path, help='also export ONNX here')
    y.add_argument('--imgsz', type=int, default=480, help='the ONNX input size (default 480)')
    cy = sub.add_parser('check-yolov5', help='converted YOLOv5n against the original')
    cm = sub.add_parser('check-mobilenet', help='converted MobileNetV2 against the TFLite model')
    for c in (cy, cm):
        c.add_argument('--images', type=Path, nargs='+', required=True, help='folders or files')
        c.add_argument('--limit', type=int, default=0, help='at most this many images')
    cy.add_argument('--weights', type=Path, help='yolov5n.pt (default: found or downloaded)')
    cy.add_argument('--imgsz', type=int, default=640)
    cy.add_argument('--conf', type=float, default=0.25)
    cm.add_argument('--weights', type=Path, help='the .tflite (default: found or downloaded)')
    return p


def list_images(paths: list[Path], limit: int = 0) -> list[Path]:
    files = []
    for p in paths:
        if p.is_dir():
            files += sorted(f for f in p.rglob('*') if f.suffix.lower() in IMAGE_SUFFIXES)
        elif p.is_file():
            files.append(p)
    return files[:limit] if limit else files


def convert_yolov5(args) -> int:
    from ..workflow import pretrained
    from ..workflow.yolov5_training import coco_model, DETECTOR_COCO_CLASSES, save_checkpoint

    source = args.weights or pretrained.fetch(pretrained.YOLOV5N)
    weights = pretrained.read_yolov5_checkpoint(source)
    classes = DETECTOR_COCO_CLASSES if args.classes == 'detector' else None
    model = coco_model(weights, classes)
    save_checkpoint(model, args.out, args.imgsz)
    print(f'wrote {args.out}: YOLOv5n from {source}, classes {list(model.names.values())}')
    if args.onnx:
        from .export_detector import export_onnx

        export_onnx(args.out, args.onnx, args.imgsz)
        print(f'wrote {args.onnx}: input {args.imgsz}x{args.imgsz}')
    return 0


def check_yolov5(args) -> int:
    from ..workflow import pretrained
    from ..workflow.reference import compare_yolov5

    source = args.weights or pretrained.fetch(pretrained.YOLOV5N)
    files = list_images(args.images, args.limit)
    r = compare_yolov5(source, files, args.imgsz, args.conf)
    print(
        f"{r['images']} images at {args.imgsz} px, conf {args.conf}: original "
        f"{r['original']} detections, converted {r['converted']}; {r['agree']} agree "
        f"(same class, IoU >= 0.9, score within 0.01), worst IoU {r['worst_iou']:.4f}, "
        f"largest score difference {r['worst_score']:.5f}"
    )
    return 0 if r['agree'] == r['original'] == r['converted'] else 1


def check_mobilenet(args) -> int:
    from ..workflow import pretrained
    from ..workflow.reference import compare_mobilenet

    source = args.weights or pretrained.fetch(pretrained.MOBILENET_V2_TFLITE)
    files = list_images(args.images, args.limit)
    r = compare_mobilenet(source, files)
    n = r['images']
    print(
        f'{n} images: same top-1 ImageNet class as the TFLite model for '
        f"{r['agree_tf_padding']} ({100 * r['agree_tf_padding'] / n:.1f}%) with TensorFlow's "
        'padding (the network glass-train --init imagenet fine-tunes), '
        f"{r['agree_torch_padding']} ({100 * r['agree_torch_padding'] / n:.1f}%) with "
        "torchvision's"
    )
    return 0 if r['agree_tf_padding'] >= 0.9 * n else 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ..workflow.pretrained import PretrainedError

    try:
        return {'yolov5': convert_yolov5, 'check-yolov5': check_yolov5,
                'check-mobilenet': check_mobilenet}[args.command](args)
    except (PretrainedError, ImportError) as e:
        print(f'glass-pretrained: {e}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
