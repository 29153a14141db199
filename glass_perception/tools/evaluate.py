"""
glass-evaluate: accuracy and loss of a classifier checkpoint, overall and per class.

Runs the checkpoint through the classifier node's own loading and preprocessing code and writes
a JSON report and a PNG (confusion matrix, per-class accuracy and mean loss). On crops cut by
`glass-synth crops` it also breaks accuracy down by shape family, by the glass's height in pixels
and by distance (from the crops.json it writes beside them).

  glass-evaluate --model glass_perception/models/glass_mobilenet_v2 --data photos/test
  glass-evaluate --synthetic-seed 9001 --scenes 300     # fresh held-out synthetic crops
  glass-evaluate --real --photos ../shared/real/coco128  # real crops (true boxes)

--real cuts the labelled glasses and cups of the real RGB-D frames (glass_perception/data/real/
labels.json) as the detector node cuts them, and with --photos the cups and wine glasses of a
photograph folder with COCO YOLO labels, then reports cups called cup, glasses called fragile
(the classifier node's fragile_classes and fragile_threshold) and beer against shot glasses.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys


def build_parser() -> argparse.ArgumentParser:
    from .chain import add_real_options

    p = argparse.ArgumentParser(
        prog='glass-evaluate',
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument('--model', default='', help='checkpoint (default: the shipped classifier)')
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        '--data', type=Path, help='ImageFolder of test images, one sub-folder per class'
    )
    src.add_argument(
        '--synthetic-seed',
        type=int,
        help='render fresh scenes of this seed (use one never trained on)',
    )
    add_real_options(
        p,
        src,
        'crops of the labelled real RGB-D frames',
        'with --real: also a YOLO photograph folder (COCO ids)',
    )
    p.add_argument(
        '--scenes', type=int, default=300, help='scenes to render with --synthetic-seed'
    )
    p.add_argument('--crop-size', type=int, default=96)
    p.add_argument('--device', default='cpu')
    p.add_argument(
        '--out', type=Path, default=Path('evaluation'), help='writes OUT.json and OUT.png'
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tqdm import tqdm

    from ..core.atomic import atomic_write_text
    from ..core.models import open_classifier
    from ..core.errors import ModelLoadError
    from ..core.paths import DEFAULT_CLASSIFIER
    from ..workflow.evaluation import (
        evaluate_crops,
        folder_samples,
        plot_report,
        synthetic_samples,
    )

    try:
        clf = open_classifier(args.model or DEFAULT_CLASSIFIER, args.device)
        if args.real is not None:
            return _real(args, clf)
        if args.data:
            samples, source = folder_samples(args.data), str(args.data)
        else:
            samples = synthetic_samples(
                args.synthetic_seed, args.scenes, args.crop_size, clf.meta.crop_padding
            )
            source = f'synthetic seed {args.synthetic_seed}, {args.scenes} scenes'
        report = evaluate_crops(clf, tqdm(samples, desc='evaluating', unit='crop'))
    except (ModelLoadError, FileNotFoundError, ValueError) as e:
        print(f'glass-evaluate: {e}', file=sys.stderr)
        return 2
    report['model'] = str(clf.path)
    report['data'] = source
    atomic_write_text(Path(f'{args.out}.json'), json.dumps(report, indent=2))
    plot_report(report, Path(f'{args.out}.png'), title=f'{clf.path.name} on {source}')
    print(
        f'accuracy {report["accuracy"]:.4f}, loss {report["loss"]:.4f} '
        f'on {report["samples"]} images ({source})'
    )
    for name, r in report['per_class'].items():
        print(
            f'  {name:<12} accuracy {r["accuracy"]:.4f}  '
            f'mean loss {r["mean_loss"]:.4f}  ({r["samples"]} images)'
        )
    for line in breakdown_lines(report.get('by', {})):
        print(line)
    print(f'wrote {args.out}.json and {args.out}.png')
    return 0


def _real(args, clf) -> int:
    """Score ``clf`` on the real crops; print the report (and write OUT.json)."""
    from ..core.atomic import atomic_write_text
    from ..core.params import CLASSIFIER, default
    from ..workflow import real

    frames = real.load_labels(args.real or real.LABELS)
    report = real.evaluate_real_classifier(
        clf,
        frames,
        args.photos,
        clf.meta.crop_padding,
        args.crop_size,
        default(CLASSIFIER, 'fragile_classes'),
        default(CLASSIFIER, 'fragile_threshold'),
    )
    print(f'{clf.path} on real crops (true boxes)')
    print(real.format_classifier_report(report))
    atomic_write_text(Path(f'{args.out}.json'), json.dumps({'model': str(clf.path), **report}))
    return 0


def breakdown_lines(by: dict) -> list[str]:
    """Return the report's ``by`` section as printed lines: a cell per family or band."""
    titles = {
        'family': 'by shape family',
        'height_px': 'by true box height in px',
        'distance_m': 'by distance in m',
    }
    lines = []
    for dimension, cells in by.items():
        lines.append(f'{titles.get(dimension, dimension)} (right/crops, then the wrong answers):')
        for value, cell in cells.items():
            wrong = ', '.join(f'{n} as {c}' for c, n in sorted(cell['wrong_as'].items()))
            lines.append(
                f'  {value:<26} {cell["right"]:>4}/{cell["samples"]:<4} '
                f'{cell["accuracy"]:7.1%}  {wrong}'.rstrip()
            )
    return lines


if __name__ == '__main__':
    sys.exit(main())
