"""
glass-train: transfer-learn the glass classifier on an ImageFolder (photos or synthetic crops).

The data is one folder per class (the folder names become the class names). The best checkpoint
(lowest validation loss) is written as OUT.safetensors + OUT.json, the format the classifier node
loads, with OUT.history.{json,csv,png} beside it; OUT.state.* lets --resume continue.

For example:
  # the seeds' recipe on your own photos: ImageNet weights (torchvision's, downloaded on a
  # connected machine; offline, MobileNetV2 from the TFLite copy in $GLASS_PRETRAINED_DIR)
  glass-train --data photos/ --out models/my_glasses --init imagenet --freeze-backbone
  # from scratch, whole network trained
  glass-train --data work/crops/train --val-data work/crops/val --out models/glass \
      --init scratch --no-freeze-backbone
  # synthetic crops and real photographs' crops (glass-real-crops), from the shipped model
  glass-train --data work/crops/train --val-data work/crops/val --extra-data work/real_crops \
      --out models/glass --init glass_perception/models/glass_mobilenet_v2.safetensors \
      --no-freeze-backbone --epochs 3
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys

from ..core.classifier_meta import ARCHITECTURES, HEADS
from ..workflow.training import LR_SCHEDULES


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='glass-train',
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        '--data', type=Path, required=True, help='ImageFolder with one sub-folder per class'
    )
    p.add_argument(
        '--out',
        type=Path,
        required=True,
        help='checkpoint stem (writes OUT.safetensors + OUT.json)',
    )
    p.add_argument(
        '--val-data',
        type=Path,
        help='separate validation ImageFolder (else --val-split of --data)',
    )
    p.add_argument('--val-split', type=float, default=0.2)
    p.add_argument(
        '--extra-data',
        type=Path,
        action='append',
        default=[],
        metavar='DIR',
        help='more training images (repeatable): sub-folders named after a class of --data, or '
        'several joined by + for an image that is one of them (glass-real-crops writes '
        'beer_glass+soju_glass for real glasses of unknown kind)',
    )
    p.add_argument('--architecture', choices=ARCHITECTURES, default='mobilenet_v2')
    p.add_argument(
        '--head',
        choices=HEADS,
        default='dense128',
        help='dense128: GAP, Dense 128 ReLU, Dropout 0.5; linear: Dropout 0.2 + Linear',
    )
    p.add_argument(
        '--init',
        default='imagenet',
        help='imagenet (torchvision weights, downloaded once; offline, MobileNetV2 from '
        'mobilenet_v2_1.0_224_quant.tflite in $GLASS_PRETRAINED_DIR or shared/weights), scratch, '
        'or a checkpoint path',
    )
    p.add_argument(
        '--freeze-backbone',
        action=argparse.BooleanOptionalAction,
        default=True,
        help='train only the head (transfer learning); --no-freeze-backbone fine-tunes everything',
    )
    p.add_argument('--input-size', type=int, default=96)
    p.add_argument(
        '--crop-padding',
        type=float,
        default=0.1,
        help='recorded in the metadata for the detector node',
    )
    p.add_argument('--epochs', type=int, default=50)
    p.add_argument('--batch-size', type=int, default=32)
    p.add_argument('--lr', type=float, default=1e-4)
    p.add_argument(
        '--lr-schedule',
        choices=LR_SCHEDULES,
        default='constant',
        help='constant, or cosine: decays per epoch from --lr to 1%% of it at the last epoch',
    )
    p.add_argument('--weight-decay', type=float, default=0.0)
    p.add_argument('--patience', type=int, default=5, help='early stopping on validation loss')
    p.add_argument('--rotation', type=float, default=90.0, help='max rotation, degrees')
    p.add_argument('--shift', type=float, default=0.1)
    p.add_argument('--shear', type=float, default=0.1, help='shear, radians')
    p.add_argument('--zoom', type=float, default=0.1)
    p.add_argument('--hflip', action=argparse.BooleanOptionalAction, default=True)
    p.add_argument('--color-jitter', type=float, default=0.2)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--device', default='cpu')
    p.add_argument(
        '--resume', action='store_true', help='continue an interrupted run of the same --out'
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tqdm import tqdm

    from ..core.device import resolve_device
    from ..workflow.training import fit, TrainConfig

    try:
        device = resolve_device(args.device)
    except ValueError as e:
        print(f'glass-train: {e}', file=sys.stderr)
        return 2
    cfg = TrainConfig(
        **{k: v for k, v in vars(args).items() if k in TrainConfig.__dataclass_fields__}
    )
    cfg.device = device
    try:
        result = fit(cfg, log=tqdm.write, progress=tqdm)
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        print(f'glass-train: {e}', file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
