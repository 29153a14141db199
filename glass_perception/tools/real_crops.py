"""
glass-real-crops: cut a labelled photograph folder's cups and glasses into training crops.

  glass-real-crops --photos ../shared/real/coco128 --out work/real_crops --copies 6
  glass-train --data work/crops/train --val-data work/crops/val --extra-data work/real_crops \
      --out models/glass --init glass_perception/models/glass_mobilenet_v2.safetensors \
      --no-freeze-backbone --epochs 3
  # a cross-validation fold: leave one photograph out, score the model on its crops
  glass-real-crops --photos ../shared/real/coco128 --out work/fold --exclude 000000000113.jpg

The folder holds YOLO labels in COCO class ids (images/, labels/ beside it; COCO128's layout).
Opaque cups go to cup/. Drinking glasses (the wine glasses, and the cup boxes the project's real
labels list as clear glasses) go to beer_glass+soju_glass/ (the classifier node's fragile classes):
a glass of one of them, which one unknown; glass-train --extra-data then maximises their summed
probability. Each box is cut as the detector node cuts (square, the classifier's padding) --copies
times: once around the true box, then with its edges moved by up to --jitter of its size.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='glass-real-crops',
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument('--photos', type=Path, required=True, help='a YOLO folder with COCO class ids')
    p.add_argument('--out', type=Path, required=True, help='the training folder to write')
    p.add_argument('--copies', type=int, default=1, help='cuts per box (default %(default)s)')
    p.add_argument(
        '--jitter',
        type=float,
        default=0.08,
        help='box edges move by up to this fraction of the box (default %(default)s)',
    )
    p.add_argument('--exclude', nargs='*', default=[], metavar='IMAGE', help='image file names')
    p.add_argument('--crop-size', type=int, default=96)
    p.add_argument('--crop-padding', type=float, default=0.1)
    p.add_argument('--seed', type=int, default=0)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ..core.params import CLASSIFIER, default
    from ..workflow import real

    try:
        counts = real.write_photo_crops(
            args.photos,
            args.out,
            tuple(default(CLASSIFIER, 'fragile_classes')),
            args.crop_padding,
            args.crop_size,
            copies=args.copies,
            jitter=args.jitter,
            seed=args.seed,
            exclude=tuple(args.exclude),
        )
    except (OSError, ValueError) as e:
        print(f'glass-real-crops: {e}', file=sys.stderr)
        return 2
    print(', '.join(f'{n} in {args.out / k}' for k, n in sorted(counts.items())))
    return 0


if __name__ == '__main__':
    sys.exit(main())
