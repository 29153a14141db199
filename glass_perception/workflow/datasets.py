"""
Writing synthetic scenes to disk as training data.

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

from ..core.atomic import atomic_path, atomic_write_text
from ..core.geometry import Box, match_boxes, square_crop
from ..core.synthetic import CLASSES, DETECTOR_CLASSES, DETECTOR_NAME, render_scene, Scene

Progress = Callable[[Iterable], Iterable]
Renderer = Callable[..., Scene]  # (seed, index, width, height, kinds=None) -> Scene
BoxSource = Callable[[np.ndarray], list[Box]]  # a BGR image -> the boxes a detector reports in it
RENDERERS = ('pbr', 'fast')
#: classification crops are cut only from objects at least this visible (not mostly occluded)
MIN_CROP_VISIBILITY = 0.6
#: what ``crops_from_detection`` writes beside its crops: the glass each crop shows
CROPS_MANIFEST = 'crops.json'


def scene_renderer(
    name: str = 'fast', quality: str = 'default', variety: str = 'classic', family_set: str = 'all'
) -> Renderer:
    """
    ``pbr``: path traced with Mitsuba (workflow.pbr); ``fast``: 2.5-D generator (core.synthetic).

    ``variety`` and ``family_set`` choose the pbr generator's recipes (workflow.variety).
    """
    if name == 'fast':
        if variety != 'classic':
            raise ValueError('--variety wide is a pbr generator: use --renderer pbr')
        return render_scene
    if name == 'pbr':
        from .pbr import load_mitsuba, make_recipe, QUALITIES, render_pbr_scene

        if quality not in QUALITIES:
            raise ValueError(f"quality '{quality}' is not one of {', '.join(QUALITIES)}")
        make_recipe(0, 0, variety=variety, family_set=family_set)  # ValueError for bad names
        if variety == 'wide':
            from .variety import photo

            photo('brick')  # ImportError now, before any scene, without scikit-image
        load_mitsuba()  # ImportError now, before any scene, where Mitsuba is not installed

        def render(seed, index, width=640, height=480, kinds=None):
            return render_pbr_scene(
                seed,
                index,
                width,
                height,
                quality,
                kinds=kinds,
                variety=variety,
                family_set=family_set,
            )

        return render
    raise ValueError(f"renderer '{name}' is not one of {', '.join(RENDERERS)}")


def _imwrite(path: Path, image: np.ndarray, options=()) -> None:
    """Write an image file atomically, so an interrupted render leaves no torn files."""
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), image, list(options)):
            raise OSError(f'cannot write {path}')


def _identity(it):
    return it


def export_detection(
    root: Path,
    seed: int,
    count: int,
    split: str,
    width: int = 640,
    height: int = 480,
    progress: Progress = _identity,
    renderer: Renderer = render_scene,
    settings: dict | None = None,
) -> int:
    """
    Render ``count`` scenes of stream ``seed`` into ``root`` as the YOLO split ``split``.

    Returns the number of labelled objects in the split. ``data.yaml`` is (re)written to name the
    splits present. Resumable: the ground truth (``truth_<split>.json``) is saved every few scenes,
    and a second run with the same ``settings`` (how the scenes are rendered) skips the scenes it
    holds; with other settings it raises ValueError rather than mix two kinds of scene.
    """
    root = Path(root)
    (root / 'images' / split).mkdir(parents=True, exist_ok=True)
    (root / 'labels' / split).mkdir(parents=True, exist_ok=True)
    settings = {'seed': int(seed), 'width': int(width), 'height': int(height), **(settings or {})}
    truth_file, settings_file = root / f'truth_{split}.json', root / f'render_{split}.json'
    truth = {}
    if truth_file.is_file():
        previous = json.loads(settings_file.read_text()) if settings_file.is_file() else None
        if previous != settings:
            raise ValueError(
                f"{root} split '{split}' was rendered with {previous}, not {settings}: "
                'use another --out or --split, or delete it'
            )
        truth = json.loads(truth_file.read_text())
    atomic_write_text(settings_file, json.dumps(settings))
    for i in progress(range(count)):
        stem = f's{seed}_{i:05d}'
        if stem in truth and (root / 'images' / split / f'{stem}.jpg').is_file():
            continue  # rendered by an earlier, interrupted run
        scene = renderer(seed, i, width, height)
        _imwrite(
            root / 'images' / split / f'{stem}.jpg', scene.image, [cv2.IMWRITE_JPEG_QUALITY, 92]
        )
        _write_labels(
            root / 'labels' / split / f'{stem}.txt',
            [(o.detector_name, o.box) for o in scene.objects],
            width,
            height,
        )
        truth[stem] = [
            {
                'kind': o.kind,
                'variant': o.variant,
                'box': [o.box.cx, o.box.cy, o.box.w, o.box.h],
                'visibility': round(o.visibility, 3),
                **({'distance': o.distance} if o.distance is not None else {}),
                **({'scene': scene.meta} if scene.meta else {}),
            }
            for o in scene.objects
        ]
        if len(truth) % 10 == 0:
            atomic_write_text(truth_file, json.dumps(truth, indent=0))
    atomic_write_text(truth_file, json.dumps(truth, indent=0))
    _write_data_yaml(root)
    return sum(len(objs) for objs in truth.values())


def _write_labels(path: Path, objects, width: int, height: int) -> None:
    """One YOLO label file: a ``cls cx cy w h`` row (normalised) per (COCO name, box)."""
    rows = [
        f'{DETECTOR_CLASSES.index(name)} {box.cx / width:.6f} {box.cy / height:.6f} '
        f'{box.w / width:.6f} {box.h / height:.6f}'
        for name, box in objects
    ]
    atomic_write_text(path, '\n'.join(rows) + ('\n' if rows else ''))


def _write_data_yaml(root: Path) -> None:
    """(Re)write ``data.yaml`` naming every split under ``root/images`` and the COCO names."""
    splits = sorted(p.name for p in (root / 'images').iterdir() if p.is_dir())
    lines = [f'path: {root.resolve()}']
    lines += [f'{s}: images/{s}' for s in splits]
    lines.append('names:')
    lines += [f'  {i}: {name}' for i, name in enumerate(DETECTOR_CLASSES)]
    atomic_write_text(root / 'data.yaml', '\n'.join(lines) + '\n')


def detection_split_from_rgbd(rgbd_root: Path, root: Path, split: str) -> int:
    """
    Add an ``rgbd`` folder's colour frames to the YOLO dataset ``root`` as split ``split``.

    The images are copied and labelled from the 3D truth's boxes, and ``truth_<split>.json`` is
    written as ``export_detection`` writes it, so the split trains the detector and
    ``load_scenes`` and ``crops`` read it like any other. Returns the number of labelled objects.
    """
    import shutil

    rgbd_root, root = Path(rgbd_root), Path(root)
    if not (rgbd_root / 'truth.json').is_file():
        raise FileNotFoundError(f'{rgbd_root}: no truth.json (not a glass-synth rgbd folder)')
    truth = json.loads((rgbd_root / 'truth.json').read_text())
    (root / 'images' / split).mkdir(parents=True, exist_ok=True)
    (root / 'labels' / split).mkdir(parents=True, exist_ok=True)
    out = {}
    for stem, scene in sorted(truth.items()):
        colour = rgbd_root / 'color' / f'{stem}.jpg'
        image = cv2.imread(str(colour), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f'{colour}: missing or unreadable')
        height, width = image.shape[:2]
        shutil.copyfile(colour, root / 'images' / split / f'{stem}.jpg')
        objects = [(o, Box(*o['box'])) for o in scene['objects']]
        _write_labels(
            root / 'labels' / split / f'{stem}.txt',
            [(DETECTOR_NAME[o['kind']], box) for o, box in objects],
            width,
            height,
        )
        out[stem] = [
            {
                'kind': o['kind'],
                'variant': o['variant'],
                'box': list(o['box']),
                'visibility': o['visibility'],
                'distance': float(np.linalg.norm(o['centre'])),
                **({'scene': scene['scene']} if scene.get('scene') else {}),
            }
            for o, _ in objects
        ]
    atomic_write_text(root / f'truth_{split}.json', json.dumps(out, indent=0))
    _write_data_yaml(root)
    return sum(len(objs) for objs in out.values())


def jitter_box(box: Box, rng: np.random.Generator, amount: float) -> Box:
    """Perturb a box's centre and size by ``amount``, as an imperfect detector might report it."""
    if amount <= 0:
        return box
    return Box(
        box.cx + rng.normal(0, amount) * box.w,
        box.cy + rng.normal(0, amount) * box.h,
        box.w * float(np.exp(rng.normal(0, amount))),
        box.h * float(np.exp(rng.normal(0, amount))),
    )


def _cut_crops(
    root: Path,
    stem: str,
    image: np.ndarray,
    objects,
    crop_box: Callable[[int, Box], Box | None],
    crop_size: int,
    padding: float,
    counts: dict[str, int],
    suffix: str = '',
    manifest: dict | None = None,
    described: list[dict] | None = None,
) -> int:
    """
    Crop every mostly visible glass of one scene into ``root/<class>/<stem>_<j><suffix>.png``.

    Each glass ``j`` is cut around ``crop_box(j, true_box)``; a glass it gives no box for is
    skipped. Returns how many were skipped. With ``manifest``, each crop's entry
    (``<class>/<file>``) records the glass ``described[j]`` (a ``load_scenes`` object).
    """
    skipped = 0
    for j, (kind, box, visibility) in enumerate(objects):
        if kind not in counts or visibility < MIN_CROP_VISIBILITY:
            continue
        around = crop_box(j, box)
        if around is None:
            skipped += 1
            continue
        name = f'{stem}_{j}{suffix}.png'
        _imwrite(root / kind / name, square_crop(image, around, padding, crop_size))
        counts[kind] += 1
        if manifest is not None and described is not None:
            o = described[j]
            manifest[f'{kind}/{name}'] = {
                'variant': o['variant'],
                'height_px': round(float(box.h), 1),
                'distance_m': None if o['distance'] is None else round(float(o['distance']), 3),
                'visibility': o['visibility'],
                'table': o['table'],
            }
    return skipped


def export_classification(
    root: Path,
    seed: int,
    scenes: int,
    crop_size: int,
    padding: float,
    width: int = 640,
    height: int = 480,
    box_jitter: float = 0.05,
    progress: Progress = _identity,
    renderer: Renderer = render_scene,
) -> dict[str, int]:
    """
    Cut every (mostly visible) glass of ``scenes`` scenes of stream ``seed`` into crops.

    The crops go into ``root/<class>/``. Returns the number of crops per class.
    """
    root = Path(root)
    for c in CLASSES:
        (root / c).mkdir(parents=True, exist_ok=True)
    counts = dict.fromkeys(CLASSES, 0)
    rng = np.random.default_rng([int(seed), 99991])
    for i in progress(range(scenes)):
        scene = renderer(seed, i, width, height, kinds=CLASSES)
        _cut_crops(
            root,
            f's{seed}_{i:05d}',
            scene.image,
            [(o.kind, o.box, o.visibility) for o in scene.glassware()],
            lambda j, box: jitter_box(box, rng, box_jitter),
            crop_size,
            padding,
            counts,
        )
    return counts


def load_scenes(folder: Path, split: str = 'test'):
    """
    Iterate over (stem, BGR image, objects) of a ``glass-synth detect`` or ``rgbd`` folder.

    Objects are plain dicts: kind, variant, box, visibility, truncated (the box touches the image
    border), distance (metres to the glass's centre, None where the truth has none) and table
    (the wide generator's table surface, else 'procedural'); an rgbd folder's also say whether each
    lies on its side (lying). ``split`` names the detect split; an rgbd folder (``truth.json``
    beside ``color/``) has none.
    """
    folder = Path(folder)
    if (folder / 'truth.json').is_file():  # glass-synth rgbd
        return _rgbd_scenes(folder, json.loads((folder / 'truth.json').read_text()))
    truth_file = folder / f'truth_{split}.json'
    if not truth_file.is_file():
        raise FileNotFoundError(f'{folder}: neither truth.json (rgbd) nor {truth_file.name}')
    return _detect_scenes(folder, split, json.loads(truth_file.read_text()))


def _rgbd_scenes(folder: Path, truth: dict):
    for stem in sorted(truth):
        image = cv2.imread(str(folder / 'color' / f'{stem}.jpg'), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f'{folder}/color/{stem}.jpg: missing or unreadable')
        objects = [
            {
                'kind': o['kind'],
                'variant': o['variant'],
                'box': Box(*o['box']),
                'visibility': o['visibility'],
                'truncated': bool(o['truncated']),
                'distance': float(np.linalg.norm(o['centre'])),
                'table': (truth[stem].get('scene') or {}).get('table', 'procedural'),
                'lying': bool(o.get('lying', False)),
            }
            for o in truth[stem]['objects']
        ]
        yield stem, image, objects


def _detect_scenes(folder: Path, split: str, truth: dict):
    for stem in sorted(truth):
        image = cv2.imread(str(folder / 'images' / split / f'{stem}.jpg'), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f'{folder}/images/{split}/{stem}.jpg: missing or unreadable')
        h, w = image.shape[:2]
        objects = []
        for o in truth[stem]:
            box = Box(*o['box'])
            x0, y0, x1, y1 = box.xyxy()
            objects.append(
                {
                    'kind': o['kind'],
                    'variant': o['variant'],
                    'box': box,
                    'visibility': o['visibility'],
                    'truncated': x0 <= 1 or y0 <= 1 or x1 >= w - 1 or y1 >= h - 1,
                    'distance': o.get('distance'),
                    'table': (o.get('scene') or {}).get('table', 'procedural'),
                }
            )
        yield stem, image, objects


def read_crops_manifest(root: Path) -> dict:
    """Return ``root``'s crops.json (crop -> glass): {} without one, ValueError if unreadable."""
    path = Path(root) / CROPS_MANIFEST
    if not path.is_file():
        return {}
    try:
        manifest = json.loads(path.read_text())
        if not isinstance(manifest, dict):
            raise ValueError('not an object')
    except ValueError as e:
        raise ValueError(f'{path}: not a crops manifest ({e})') from e
    return manifest


def crops_from_detection(
    det_root: Path,
    split: str,
    root: Path,
    crop_size: int,
    padding: float,
    box_jitter: float = 0.05,
    seed: int = 0,
    progress: Progress = _identity,
    boxes: BoxSource | None = None,
    min_iou: float = 0.5,
) -> dict[str, int]:
    """
    Cut classification crops from the scenes ``export_detection`` rendered (no second render).

    Reads ``det_root/images/<split>`` and the ground truth ``truth_<split>.json`` beside it (or an
    rgbd folder's ``color/`` and ``truth.json``), and cuts the glasses exactly as
    ``export_classification`` does.

    With ``boxes`` (an image -> the boxes a detector reports), each glass is cut around the
    detected box matched to it (IoU >= ``min_iou``) instead of its jittered true box, into
    ``<stem>_<j>_det.png``: the crops the classifier gets at run time, with the detector's real box
    error. Glasses the detector misses are skipped and counted under ``missed_by_detector``.

    Beside the crops, ``root/crops.json`` (:data:`CROPS_MANIFEST`) says which glass each crop
    shows: shape family, true box height in pixels, distance, visibility and table, so
    ``glass-evaluate`` can break its accuracy down by them. Cutting another split into the same
    ``root`` adds to it.
    """
    det_root, root = Path(det_root), Path(root)
    scenes = load_scenes(det_root, split)
    for c in CLASSES:
        (root / c).mkdir(parents=True, exist_ok=True)
    counts = dict.fromkeys(CLASSES, 0)
    rng = np.random.default_rng([int(seed), 99992])
    missed = 0
    manifest = read_crops_manifest(root)
    for stem, image, truth in progress(scenes):
        objects = [(o['kind'], o['box'], o['visibility']) for o in truth]
        if boxes is None:
            _cut_crops(
                root,
                stem,
                image,
                objects,
                lambda j, box: jitter_box(box, rng, box_jitter),
                crop_size,
                padding,
                counts,
                manifest=manifest,
                described=truth,
            )
            continue
        found = boxes(image)
        match = match_boxes([box for _, box, _ in objects], found, min_iou)
        missed += _cut_crops(
            root,
            stem,
            image,
            objects,
            lambda j, box: None if match[j] is None else found[match[j]],
            crop_size,
            padding,
            counts,
            suffix='_det',
            manifest=manifest,
            described=truth,
        )
    atomic_write_text(root / CROPS_MANIFEST, json.dumps(manifest, indent=0, sort_keys=True))
    return counts if boxes is None else {**counts, 'missed_by_detector': missed}
