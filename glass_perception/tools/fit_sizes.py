"""
glass-fit-sizes: the class-conditional size model the localizer fuses with the crop classifier.

  glass-fit-sizes --noise-from work/rgbd/val --temperature-from work/rgbd/val \
      --out glass_perception/models/glass_mobilenet_v2.sizes.json

Fits a Gaussian mixture over (log height, log diameter) per class to the glasses of the training
streams' recipes (MODEL_CARD.md; nothing is rendered) and adds the localizer's measurement noise,
measured on true boxes of a validation RGB-D folder (seeds used neither for training nor for
reported figures). With --temperature-from, the classifier's temperature (how far to trust its
probabilities against the size) is fitted by NLL on the glasses the shipped detector and
classifier find in that folder.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
import sys


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='glass-fit-sizes',
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument('--out', type=Path, required=True, help='the .sizes.json to write')
    p.add_argument(
        '--noise-from', type=Path, required=True, help='validation folder from glass-synth rgbd'
    )
    p.add_argument(
        '--temperature-from',
        type=Path,
        help='validation folder: fit the crop classifier temperature there (default: T = 1)',
    )
    p.add_argument(
        '--imgsz', type=int, default=None, help="detector input size (default: the node's)"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    from tqdm import tqdm

    from ..core.atomic import atomic_write_text
    from ..workflow.evaluation_3d import measurement_noise
    from ..workflow.sizes import (
        base_ratios,
        fit_size_model,
        recipe_sizes,
        TRAINING_STREAMS,
        WIDE_TRAINING_STREAMS,
    )

    sizes = recipe_sizes(TRAINING_STREAMS, WIDE_TRAINING_STREAMS)
    noise, n = measurement_noise(args.noise_from, base_ratios(sizes), tqdm)
    print(
        f'measurement noise from {n} glasses of {args.noise_from}: sigma log height '
        f'{noise[0, 0] ** 0.5:.3f}, log diameter {noise[1, 1] ** 0.5:.3f}'
    )
    model = fit_size_model(sizes, TRAINING_STREAMS, noise, wide_streams=WIDE_TRAINING_STREAMS)
    model = dataclasses.replace(
        model, source=model.source + f'; measurement noise: {n} glasses of {args.noise_from.name}'
    )
    if args.temperature_from:
        from ..core.models import open_classifier
        from ..core.detector import Detector
        from ..core.params import default, DETECTOR
        from ..core.paths import DEFAULT_CLASSIFIER, DEFAULT_DETECTOR
        from ..workflow.evaluation_3d import evaluate_3d, fit_temperature

        imgsz = args.imgsz or default(DETECTOR, 'imgsz')
        report = evaluate_3d(
            args.temperature_from,
            Detector(str(DEFAULT_DETECTOR), imgsz=imgsz),
            open_classifier(DEFAULT_CLASSIFIER),
            model,
            progress=tqdm,
        )
        t, nll = fit_temperature([r for r in report['rows'] if r['detected']])
        print(f'classifier temperature {t:.2f} (NLL {nll:.3f} on {args.temperature_from})')
        model = dataclasses.replace(
            model,
            temperature=t,
            source=model.source + f'; temperature from {args.temperature_from.name}',
        )
    for c in model.classes:
        m = model.mixtures[c]
        print(f'{c}: {len(m.weights)} component(s), base/widest ratio {model.base_ratio[c]:.2f}')
    atomic_write_text(args.out, model.to_json())
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
