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

from .datasets import jitter_box
from ..core.classifier import GlassClassifier
from ..core.geometry import square_crop
from ..core.synthetic import CLASSES, render_scene

IMAGE_EXTENSIONS = {'.png', '.jpg', '.jpeg', '.bmp', '.webp'}


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
    classifier: GlassClassifier, samples: Iterable[tuple[np.ndarray, str]], batch_size: int = 64
) -> dict:
    """Score (BGR crop, true class name) pairs; a class the model does not know is an error."""
    names = classifier.class_names
    k = len(names)
    confusion = np.zeros((k, k), np.int64)
    loss_sum = np.zeros(k)
    batch: list[tuple[np.ndarray, int]] = []

    def flush():
        probs = classifier.predict([c for c, _ in batch])
        for (_, t), p in zip(batch, probs):
            confusion[t, int(np.argmax(p))] += 1
            loss_sum[t] += -float(np.log(max(p[t], 1e-12)))
        batch.clear()

    for crop, truth in samples:
        if truth not in names:
            raise ValueError(f"class '{truth}' is not one of the model's classes {names}")
        batch.append((crop, names.index(truth)))
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return report_from(confusion, loss_sum, names)


def folder_samples(root: Path):
    """(crop, class) from an ImageFolder: one sub-folder per class."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f'{root}: no such folder')
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for f in sorted(class_dir.iterdir()):
            if f.suffix.lower() in IMAGE_EXTENSIONS:
                img = cv2.imread(str(f), cv2.IMREAD_COLOR)
                if img is None:
                    raise ValueError(f'{f}: not a readable image')
                yield img, class_dir.name


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
