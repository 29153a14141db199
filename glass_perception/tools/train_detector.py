r"""
glass-train-detector: train the YOLO detector on synthetic scenes (or any YOLO dataset).

Example (the shipped default detector)::

    glass-train-detector --workdir work/detector --train-seed 101 --train-scenes 800 \
        --val-seed 102 --val-scenes 120 --epochs 30 --imgsz 320 \
        --out work/detector/glass_yolo11n.pt

From COCO weights: ``--model yolov5n.pt`` starts from the official COCO YOLOv5n (offline from
``$GLASS_PRETRAINED_DIR`` or ``shared/weights``, else downloaded; its SHA-256 checked, read
without running anything in it, converted with its anchor-based head and COCO's ``cup``,
``wine glass``, ``bottle`` and ``bowl``: ``workflow.pretrained``, ``workflow.yolov5_training``),
and ``--replay`` mixes real photographs into training so it keeps what it knew of them::

    glass-train-detector --data work/wide/det/data_wide.yaml --workdir work/coco \
        --model yolov5n.pt --replay ../shared/real/coco128 --imgsz 480 --epochs 12

A checkpoint written by such a run trains on the same way (``--model work/coco/run/...``).
Ultralytics' own names (``yolo11n.pt``, downloaded; ``yolo11n.yaml``, random weights) work as
before.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import shutil
import sys
import time

from tqdm import tqdm

from ..core.atomic import atomic_path, atomic_write_text
from ..workflow.datasets import export_detection


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='glass-train-detector',
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        '--data', type=Path, help='an existing YOLO data.yaml; default: render synthetic scenes'
    )
    p.add_argument(
        '--workdir', type=Path, default=Path('work/detector'), help='dataset and run folder'
    )
    p.add_argument('--train-seed', type=int, default=101)
    p.add_argument('--train-scenes', type=int, default=800)
    p.add_argument(
        '--val-seed', type=int, default=102, help='held-out stream, never used for training'
    )
    p.add_argument('--val-scenes', type=int, default=120)
    p.add_argument(
        '--test-seed', type=int, default=9102, help='fresh stream for the final held-out mAP'
    )
    p.add_argument('--test-scenes', type=int, default=200)
    p.add_argument(
        '--evaluate-only',
        type=Path,
        metavar='WEIGHTS',
        help='skip training: report held-out mAP50 per class of these weights',
    )
    p.add_argument('--width', type=int, default=640)
    p.add_argument('--height', type=int, default=480)
    p.add_argument(
        '--model',
        default='yolo11n.yaml',
        help='yolo11n.yaml (random init, offline) or yolo11n.pt (COCO weights, downloaded)',
    )
    p.add_argument(
        '--replay',
        type=Path,
        action='append',
        default=[],
        metavar='DIR',
        help='a YOLO folder of photographs with COCO class ids (images/, labels/), e.g. COCO128, '
        "added to the training split with the detector's classes (repeatable)",
    )
    p.add_argument('--epochs', type=int, default=30)
    p.add_argument('--patience', type=int, default=15)
    p.add_argument('--imgsz', type=int, default=320)
    p.add_argument('--batch', type=int, default=16)
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--device', default='cpu')
    p.add_argument('--seed', type=int, default=0, help='training seed')
    tune = p.add_argument_group(
        'fine-tuning',
        "Ultralytics' own settings, passed on only when given. Its default optimizer ('auto') "
        'picks AdamW at 0.00125 for our 4 classes, a rate fitted for training from scratch, '
        'which moved the stage-6 detector off its optimum within an epoch; a fine-tune wants '
        'a lower rate it is given (--optimizer AdamW --lr0 2e-4), and --warmup-epochs 0 (with '
        'a given optimizer a warm-up starts the biases at a rate of 0.1).',
    )
    tune.add_argument('--optimizer', choices=('auto', 'SGD', 'Adam', 'AdamW', 'NAdam', 'RAdam'))
    tune.add_argument('--lr0', type=float, help='initial learning rate (needs --optimizer)')
    tune.add_argument('--lrf', type=float, help='final learning rate, as a fraction of lr0')
    tune.add_argument('--warmup-epochs', type=float)
    tune.add_argument('--cos-lr', action='store_true', help='cosine learning-rate schedule')
    tune.add_argument('--close-mosaic', type=int, help='epochs at the end trained without mosaic')
    tune.add_argument('--freeze', type=int, help='keep the first N layers as they are')
    tune.add_argument(
        '--save-period',
        type=int,
        help='also keep the weights of every N-th epoch (run/weights/epochK.pt, K from 0), to '
        'choose an epoch by recall afterwards (glass-evaluate-detector --detector)',
    )
    p.add_argument(
        '--resume', action='store_true', help='continue the interrupted run in --workdir'
    )
    p.add_argument('--out', type=Path, help='copy the best weights here')
    return p


FINE_TUNING = (
    'optimizer',
    'lr0',
    'lrf',
    'warmup_epochs',
    'close_mosaic',
    'save_period',
    'freeze',
)


def train_arguments(args, data: Path, run_dir: Path) -> dict:
    """Build the keyword arguments for ``YOLO.train``: ours, and the fine-tuning settings given."""
    kwargs = {
        'data': str(data),
        'epochs': args.epochs,
        'patience': args.patience,
        'imgsz': args.imgsz,
        'batch': args.batch,
        'workers': args.workers,
        'device': args.device,
        'seed': args.seed,
        'project': str(run_dir.parent),
        'name': run_dir.name,
        'exist_ok': True,
        'plots': False,
        'amp': False,
        'cache': True,
    }
    kwargs.update({k: getattr(args, k) for k in FINE_TUNING if getattr(args, k) is not None})
    if args.cos_lr:
        kwargs['cos_lr'] = True
    return kwargs


def evaluate(YOLO, weights: Path, data: Path, args) -> dict:
    """mAP50 overall and per class on the validation split and on the held-out test split."""
    report = {'weights': str(weights), 'data': str(data)}
    for split in ('val', 'test'):
        m = YOLO(str(weights)).val(
            data=str(data),
            imgsz=args.imgsz,
            device=args.device,
            plots=False,
            split=split,
            verbose=False,
        )
        report[split] = {
            'mAP50': float(m.box.map50),
            'mAP50_95': float(m.box.map),
            'mAP50_per_class': {
                m.names[int(c)]: float(m.box.ap50[i]) for i, c in enumerate(m.box.ap_class_index)
            },
        }
    return report


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.lr0 is not None and args.optimizer in (None, 'auto'):
        # Ultralytics ignores lr0 under 'auto' (it fits its own): say so rather than surprise
        parser.error('--lr0 needs --optimizer (SGD, AdamW, ...): auto picks its own rate')
    from ultralytics import YOLO  # heavy import after argument parsing, so --help is instant

    data = args.data
    if data is None:
        root = args.workdir / 'dataset'
        if not (root / 'data.yaml').exists():
            print(f'rendering {args.train_scenes} + {args.val_scenes} scenes into {root}')
            export_detection(
                root,
                args.train_seed,
                args.train_scenes,
                'train',
                args.width,
                args.height,
                progress=tqdm,
            )
            export_detection(
                root, args.val_seed, args.val_scenes, 'val', args.width, args.height, progress=tqdm
            )
        data = root / 'data.yaml'
    elif not data.exists():
        print(
            f'glass-train-detector: {data} does not exist; give a YOLO data.yaml', file=sys.stderr
        )
        return 2

    root = Path(data).parent
    if not (root / 'images' / 'test').is_dir():
        print(f'rendering {args.test_scenes} held-out scenes of seed {args.test_seed}')
        export_detection(
            root, args.test_seed, args.test_scenes, 'test', args.width, args.height, progress=tqdm
        )
    if args.evaluate_only:
        report = evaluate(YOLO, args.evaluate_only, data, args)
        print(json.dumps(report, indent=2))
        return 0

    run_dir = args.workdir.resolve() / 'run'
    started = time.monotonic()
    from ..workflow import yolov5_training

    if args.replay:
        data = yolov5_training.with_replay(data, args.replay, args.workdir)
    last = run_dir / 'weights' / 'last.pt'
    if args.resume and last.exists():
        trainer = yolov5_training.starting_point(str(last), [], args.workdir)[1]
        YOLO(str(last)).train(resume=True, trainer=trainer)
    else:
        import yaml

        names = yaml.safe_load(Path(data).read_text())['names']
        names = [names[k] for k in sorted(names)] if isinstance(names, dict) else list(names)
        from ..workflow.pretrained import PretrainedError

        try:
            start, trainer = yolov5_training.starting_point(args.model, names, args.workdir)
        except (PretrainedError, ValueError) as e:
            print(f'glass-train-detector: {e}', file=sys.stderr)
            return 2
        YOLO(start).train(trainer=trainer, **train_arguments(args, data, run_dir))
    best = run_dir / 'weights' / 'best.pt'
    report = evaluate(YOLO, best, data, args)
    report['training_minutes'] = round((time.monotonic() - started) / 60.0, 1)
    atomic_write_text(args.workdir / 'report.json', json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    if args.out:
        with atomic_path(args.out) as tmp:
            shutil.copyfile(best, tmp)
        print(f'best weights copied to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
