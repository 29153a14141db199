"""
Evaluating a classifier exactly as the classifier node runs it. No ROS here.

Images go through :class:`GlassClassifier` (the node's own loading and preprocessing code), so
the figures describe the deployed model, not a training-time variant of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from .datasets import CROPS_MANIFEST, jitter_box, read_crops_manifest
from .evaluation_detector import bin_name, DISTANCE_BINS, HEIGHT_BINS
from ..core.classifier import GlassClassifier
from ..core.geometry import square_crop
from ..core.synthetic import CLASSES, render_scene

IMAGE_EXTENSIONS = {'.png', '.jpg', '.jpeg', '.bmp', '.webp'}
#: the bands glass-evaluate breaks crops down by, as glass-evaluate-detector does its recall
_BANDS = {'height_px': HEIGHT_BINS, 'distance_m': DISTANCE_BINS}


def report_from(confusion: np.ndarray, loss_sum: np.ndarray, class_names: list[str]) -> dict:
    """Overall and per-class accuracy and mean loss from a confusion matrix (rows: truth)."""
    support = confusion.sum(1)
    n = int(support.sum())
    return {
        'samples': n,
        'accuracy': float(np.trace(confusion) / n) if n else float('nan'),
        'loss': float(loss_sum.sum() / n) if n else float('nan'),
        'per_class': {
            c: {
                'samples': int(support[i]),
                'accuracy': float(confusion[i, i] / support[i]) if support[i] else float('nan'),
                'mean_loss': float(loss_sum[i] / support[i]) if support[i] else float('nan'),
            }
            for i, c in enumerate(class_names)
        },
        'confusion_matrix': confusion.tolist(),
        'class_names': list(class_names),
    }


def evaluate_crops(
    classifier: GlassClassifier, samples: Iterable[tuple], batch_size: int = 64
) -> dict:
    """
    Score (BGR crop, true class name[, tags]) samples; a class the model does not know is an error.

    ``tags`` (:func:`crop_tags`: shape family, height and distance band) add a ``by`` section to
    the report: accuracy and the wrong answers for each family and band.
    """
    names = classifier.class_names
    k = len(names)
    confusion = np.zeros((k, k), np.int64)
    loss_sum = np.zeros(k)
    by: dict[str, dict[str, dict]] = {}
    batch: list[tuple[np.ndarray, int, dict | None]] = []

    def flush():
        probs = classifier.predict([c for c, _, _ in batch])
        for (_, t, tags), p in zip(batch, probs):
            guess = int(np.argmax(p))
            confusion[t, guess] += 1
            loss_sum[t] += -float(np.log(max(p[t], 1e-12)))
            for dimension, value in (tags or {}).items():
                cell = by.setdefault(dimension, {}).setdefault(
                    value, {'samples': 0, 'right': 0, 'wrong_as': {}}
                )
                cell['samples'] += 1
                cell['right'] += int(guess == t)
                if guess != t:
                    cell['wrong_as'][names[guess]] = cell['wrong_as'].get(names[guess], 0) + 1
        batch.clear()

    for crop, truth, *tags in samples:
        if truth not in names:
            raise ValueError(f"class '{truth}' is not one of the model's classes {names}")
        batch.append((crop, names.index(truth), tags[0] if tags else None))
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    report = report_from(confusion, loss_sum, names)
    if by:
        for cells in by.values():
            for cell in cells.values():
                cell['accuracy'] = cell['right'] / cell['samples']
        report['by'] = {d: dict(sorted(by[d].items(), key=_band_order(d))) for d in _ordered(by)}
    return report


def crop_tags(kind: str, entry: dict) -> dict:
    """Return the breakdown a crops.json entry puts a crop in: family, height and distance band."""
    tags = {
        'family': f'{kind}/{entry["variant"]}',
        'height_px': _band(entry['height_px'], _BANDS['height_px']),
    }
    if entry.get('distance_m') is not None:
        tags['distance_m'] = _band(entry['distance_m'], _BANDS['distance_m'])
    return tags


def _ordered(by: dict) -> list[str]:
    order = ('family', *_BANDS)
    return sorted(by, key=lambda d: (order.index(d) if d in order else len(order), d))


def _band_order(dimension: str):
    """Return a sort key for one dimension's cells: bands from low to high, families by name."""
    rank = {bin_name(lo, hi): i for i, (lo, hi) in enumerate(_BANDS.get(dimension, ()))}
    return lambda item: (rank.get(item[0], len(rank)), item[0])


def _band(value: float, bins) -> str:
    for lo, hi in bins:
        if lo <= value < hi:
            return bin_name(lo, hi)
    return bin_name(*bins[-1])


def folder_samples(root: Path):
    """
    (crop, class, tags) from an ImageFolder: one sub-folder per class.

    ``tags`` come from the folder's crops.json (``glass-synth crops`` writes it) and are None for
    a crop it does not list, or without one.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f'{root}: no such folder')
    manifest = read_crops_manifest(root)
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for f in sorted(class_dir.iterdir()):
            if f.suffix.lower() in IMAGE_EXTENSIONS:
                img = cv2.imread(str(f), cv2.IMREAD_COLOR)
                if img is None:
                    raise ValueError(f'{f}: not a readable image')
                key = f'{class_dir.name}/{f.name}'
                try:
                    tags = (
                        None if key not in manifest else crop_tags(class_dir.name, manifest[key])
                    )
                except (KeyError, TypeError) as e:
                    raise ValueError(f'{root / CROPS_MANIFEST}: entry {key} lacks {e}') from e
                yield img, class_dir.name, tags


def synthetic_samples(
    seed: int,
    scenes: int,
    crop_size: int,
    padding: float,
    box_jitter: float = 0.05,
    width: int = 640,
    height: int = 480,
):
    """Fresh crops of the synthetic stream ``seed``, cut as the detector node cuts them."""
    rng = np.random.default_rng([int(seed), 99991])
    for i in range(scenes):
        scene = render_scene(seed, i, width, height, kinds=CLASSES)
        for o in scene.glassware():
            yield (
                square_crop(scene.image, jitter_box(o.box, rng, box_jitter), padding, crop_size),
                o.kind,
            )


def plot_report(report: dict, path: Path, title: str = '') -> None:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    from ..core.atomic import atomic_path

    names = report['class_names']
    cm = np.asarray(report['confusion_matrix'])
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.5))
    ax[0].imshow(cm, cmap='Blues')
    ax[0].set(
        xticks=range(len(names)),
        yticks=range(len(names)),
        xticklabels=names,
        yticklabels=names,
        xlabel='predicted',
        ylabel='true',
        title='confusion matrix',
    )
    for i in range(len(names)):
        for j in range(len(names)):
            ax[0].text(
                j,
                i,
                str(cm[i, j]),
                ha='center',
                va='center',
                color='white' if cm[i, j] > cm.max() / 2 else 'black',
            )
    acc = [report['per_class'][n]['accuracy'] for n in names]
    loss = [report['per_class'][n]['mean_loss'] for n in names]
    x = np.arange(len(names))
    ax[1].bar(x - 0.2, acc, 0.4, label='accuracy')
    ax[1].bar(x + 0.2, loss, 0.4, label='mean loss')
    ax[1].set(xticks=x, xticklabels=names, title=f'per class (overall {report["accuracy"]:.3f})')
    ax[1].legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format='png', dpi=90)
    plt.close(fig)
