"""Writing synthetic scenes to disk as training data.

* detection: an Ultralytics/YOLO dataset (images/, labels/ with normalised ``cls cx cy w h`` rows,
  ``data.yaml`` with the COCO class names the detector node reports);
* classification: an ImageFolder tree (``<root>/<class>/*.png``) of square crops cut by
  :func:`glass_perception.core.geometry.square_crop`, the very function the detector node uses.

Every file is a pure function of (seed, index), so the data is reproducible from the command line.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Iterable

import cv2
import numpy as np

from .atomic import atomic_write_text
from .geometry import Box, square_crop
from .synthetic import CLASSES, DETECTOR_CLASSES, Scene, render_scene

Progress = Callable[[Iterable], Iterable]
Renderer = Callable[..., Scene]      # (seed, index, width, height, kinds=None) -> Scene
RENDERERS = ("pbr", "fast")
#: classification crops are cut only from objects at least this visible (not mostly occluded)
MIN_CROP_VISIBILITY = 0.6


def scene_renderer(name: str = "fast", quality: str = "default") -> Renderer:
    """``pbr``: path traced with Mitsuba (core.pbr); ``fast``: the 2.5-D generator (core.synthetic)."""
    if name == "fast":
        return render_scene
    if name == "pbr":
        from .pbr import QUALITIES, load_mitsuba, render_pbr_scene

        if quality not in QUALITIES:
            raise ValueError(f"quality '{quality}' is not one of {', '.join(QUALITIES)}")
        load_mitsuba()   # ImportError now, before any scene, where Mitsuba is not installed

        def render(seed, index, width=640, height=480, kinds=None):
            return render_pbr_scene(seed, index, width, height, quality, kinds=kinds)
        return render
    raise ValueError(f"renderer '{name}' is not one of {', '.join(RENDERERS)}")


def _identity(it):
    return it


def export_detection(root: Path, seed: int, count: int, split: str, width: int = 640, height: int = 480,
                     progress: Progress = _identity, renderer: Renderer = render_scene) -> int:
    """Render ``count`` scenes of stream ``seed`` into ``root`` as the YOLO split ``split``.

    Returns the number of labelled objects written. ``data.yaml`` is (re)written to name the
    splits present.
    """
    root = Path(root)
    (root / "images" / split).mkdir(parents=True, exist_ok=True)
    (root / "labels" / split).mkdir(parents=True, exist_ok=True)
    n_objects = 0
    truth = {}
    for i in progress(range(count)):
        scene = renderer(seed, i, width, height)
        stem = f"s{seed}_{i:05d}"
        cv2.imwrite(str(root / "images" / split / f"{stem}.jpg"), scene.image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        rows = []
        for o in scene.objects:
            cls = DETECTOR_CLASSES.index(o.detector_name)
            rows.append(f"{cls} {o.box.cx / width:.6f} {o.box.cy / height:.6f} "
                        f"{o.box.w / width:.6f} {o.box.h / height:.6f}")
        (root / "labels" / split / f"{stem}.txt").write_text("\n".join(rows) + ("\n" if rows else ""))
        truth[stem] = [{"kind": o.kind, "variant": o.variant, "box": [o.box.cx, o.box.cy, o.box.w, o.box.h],
                        "visibility": round(o.visibility, 3)}
                       for o in scene.objects]
        n_objects += len(rows)
    atomic_write_text(root / f"truth_{split}.json", json.dumps(truth, indent=0))
    splits = sorted(p.name for p in (root / "images").iterdir() if p.is_dir())
    lines = [f"path: {root.resolve()}"]
    lines += [f"{s}: images/{s}" for s in splits]
    lines.append("names:")
    lines += [f"  {i}: {name}" for i, name in enumerate(DETECTOR_CLASSES)]
    atomic_write_text(root / "data.yaml", "\n".join(lines) + "\n")
    return n_objects


def jitter_box(box: Box, rng: np.random.Generator, amount: float) -> Box:
    """A box as an imperfect detector might report it: centre and size perturbed by ``amount``."""
    if amount <= 0:
        return box
    return Box(box.cx + rng.normal(0, amount) * box.w, box.cy + rng.normal(0, amount) * box.h,
               box.w * float(np.exp(rng.normal(0, amount))), box.h * float(np.exp(rng.normal(0, amount))))


def export_classification(root: Path, seed: int, scenes: int, crop_size: int, padding: float,
                          width: int = 640, height: int = 480, box_jitter: float = 0.05,
                          progress: Progress = _identity, renderer: Renderer = render_scene) -> dict[str, int]:
    """Cut every (mostly visible) glass of ``scenes`` scenes of stream ``seed`` into ``root/<class>/``.

    Returns the number of crops per class.
    """
    root = Path(root)
    for c in CLASSES:
        (root / c).mkdir(parents=True, exist_ok=True)
    counts = {c: 0 for c in CLASSES}
    rng = np.random.default_rng([int(seed), 99991])
    for i in progress(range(scenes)):
        scene = renderer(seed, i, width, height, kinds=CLASSES)
        for j, o in enumerate(scene.glassware()):
            if o.visibility < MIN_CROP_VISIBILITY:
                continue
            crop = square_crop(scene.image, jitter_box(o.box, rng, box_jitter), padding, crop_size)
            cv2.imwrite(str(root / o.kind / f"s{seed}_{i:05d}_{j}.png"), crop)
            counts[o.kind] += 1
    return counts
