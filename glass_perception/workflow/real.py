"""
Real images: the project's labels on real RGB-D frames, COCO-style photographs, and their scores.

Three kinds of real data (``shared/real/SOURCES.md``; the model card's "Real images"):

* **Labelled real RGB-D frames** (``glass_perception/data/real/labels.json``, boxes this project
  drew; paths relative to the ``shared/real`` folder): the drinking-glass frames and the
  transparent objects on plain tables. ``evaluate_real_frames`` runs the detector as the node
  does and counts, per kind, the objects found: a drinking glass or cup when a kept box of a
  ``crop_classes`` class (what the pipeline classifies) overlaps it by IoU >= 0.5; a transparent
  bottle or container when a box of any of the detector's classes does. False boxes are kept
  crop-class boxes that overlap no labelled object.
* **Photographs with YOLO labels** (COCO class ids, e.g. COCO128): ``evaluate_photos`` counts
  the cups and wine glasses found by a box of the same class and the false crop-class boxes per
  image. A COCO-initialised detector has trained on COCO128: its figures there are
  training-set figures.
* **Real crops** (``real_crops``): the labelled glasses and cups cut as the detector node cuts
  them (``core.geometry.square_crop`` around the true box), for the classifier.
  ``write_photo_crops`` cuts a photograph folder's cups and glasses into training folders
  (``glass-real-crops``, ``glass-train --extra-data``).

``coco_replay`` turns a COCO-labelled folder into a YOLO split with the detector's classes, so
fine-tuning keeps seeing real photographs.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
import time

import cv2
import numpy as np

from .evaluation_detector import detect_as_node, detect_like_node, keep_like_node
from ..core.geometry import Box, match_boxes, square_crop
from ..core.paths import PACKAGE_DIR
from ..core.synthetic import DETECTOR_CLASSES

LABELS = PACKAGE_DIR / 'data' / 'real' / 'labels.json'
#: COCO's class ids of the detector's classes (COCO128's labels use these)
COCO_IDS = {'bottle': 39, 'wine glass': 40, 'cup': 41, 'bowl': 45}
#: what each labelled kind must be found as: crop classes, or any detector class
GLASSES = ('beer_glass', 'soju_glass', 'glass')
CUPS = ('cup', 'plastic_cup')
TRANSPARENT = ('bottle', 'container')
#: the classifier's true class of a labelled kind (None: fragile, but neither beer nor shot)
FINE_CLASS = {
    'beer_glass': 'beer_glass',
    'soju_glass': 'soju_glass',
    'glass': None,
    'cup': 'cup',
    'plastic_cup': 'cup',
}


def real_dir() -> Path:
    """``$GLASS_REAL_DIR``, else the ``shared/real`` folder beside the checkout."""
    env = os.environ.get('GLASS_REAL_DIR')
    return Path(env) if env else PACKAGE_DIR.parent.parent / 'shared' / 'real'


def load_labels(path: Path | str = LABELS, root: Path | str | None = None) -> list[dict]:
    """Return the labelled frames with absolute paths; FileNotFoundError names what is missing."""
    root = Path(root) if root is not None else real_dir()
    data = json.loads(Path(path).read_text())
    if data.get('format') != 'glass_perception.real_labels':
        raise ValueError(f'{path}: not a glass_perception real-labels file')
    frames = []
    for f in data['frames']:
        colour = root / f['color']
        if not colour.is_file():
            raise FileNotFoundError(f'{colour}: a labelled real frame is missing ({path})')
        frames.append({**f, 'color': colour, 'depth': root / f['depth']})
    return frames


def read_depth_m(path: Path | str, unit: str = 'auto') -> np.ndarray:
    """
    Read a real capture's depth in metres (float32, 0 = none).

    EXR, .npy, OpenCV's FileStorage (.xml/.yml, gzipped or not: node ``depth_image``) or a 16-bit
    PNG. ``unit`` 'm' or 'mm' says what the file holds; 'auto' takes millimetres for integer
    data (16-bit PNG, integer .npy) and metres for floating-point data (EXR, float .npy).
    """
    if unit not in ('auto', 'm', 'mm'):
        raise ValueError(f"depth unit '{unit}' is not auto, m or mm")
    path = Path(path)
    name = path.name.lower()
    if name.endswith('.exr'):
        import OpenEXR  # the pip OpenCV is built without EXR

        try:
            with OpenEXR.File(str(path)) as exr:
                channels = exr.channels()
                # depth in the first channel: Z, Y, R, or the first of a packed RGB(A)
                key = next((k for k in ('Z', 'Y', 'R', 'RGB', 'RGBA') if k in channels), None)
                d = np.asarray(channels[key or next(iter(channels))].pixels)
        except Exception as e:  # OpenEXR raises its own errors on a bad file
            raise ValueError(f'{path}: not a readable EXR ({e})') from None
        d = d[..., 0] if d.ndim == 3 else d
    elif name.endswith('.npy'):
        d = np.load(path, allow_pickle=False)
    elif name.endswith(('.xml', '.xml.gz', '.yml', '.yml.gz', '.yaml', '.yaml.gz')):
        if name.endswith('.gz'):
            import tempfile

            with tempfile.NamedTemporaryFile(suffix=Path(name[:-3]).suffix) as tmp:
                tmp.write(gzip.decompress(path.read_bytes()))
                tmp.flush()
                return read_depth_m(tmp.name, unit)
        fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
        d = fs.getNode('depth_image').mat() if fs.isOpened() else None
        if d is None:
            raise ValueError(f'{path}: no depth_image matrix in this OpenCV FileStorage file')
    elif name.endswith('.png'):
        d = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if d is None or d.dtype != np.uint16 or d.ndim != 2:
            raise ValueError(f'{path}: not a 16-bit single-channel PNG')
    else:
        raise ValueError(f'{path}: depth must be .exr, .npy, .xml[.gz]/.yml[.gz] or 16-bit .png')
    d = np.asarray(d)
    if unit == 'mm' or (unit == 'auto' and np.issubdtype(d.dtype, np.integer)):
        d = d.astype(np.float32) / 1000.0
    d = np.asarray(d, np.float32)
    if d.ndim != 2:
        raise ValueError(f'{path}: depth has shape {d.shape}, not a single channel')
    return np.where(np.isfinite(d) & (d > 0), d, 0.0).astype(np.float32)


def _counts():
    return {'n': 0, 'found': 0}


def _rate(c: dict) -> float | None:
    return c['found'] / c['n'] if c['n'] else None


def evaluate_real_frames(frames: list[dict], detector, conf: float | None = None) -> dict:
    """Recall per kind and per scene, false crop-class boxes per frame; see the module doc."""
    by_kind: dict[str, dict] = {}
    by_scene: dict[str, dict] = {}
    rows, frame_ms = [], []
    for f in frames:
        image = cv2.imread(str(f['color']), cv2.IMREAD_COLOR)
        t0 = time.perf_counter()
        found = detect_as_node(detector, image, conf)
        frame_ms.append(1000.0 * (time.perf_counter() - t0))
        kept = keep_like_node(found)  # crop classes, as the node keeps them
        anything = [d for d in found if d.class_name in DETECTOR_CLASSES]
        truth = [Box.from_xyxy(*o['box']) for o in f['objects']]
        crop_match = match_boxes(truth, [d.box for d in kept])
        any_match = match_boxes(truth, [d.box for d in anything])
        scene = by_scene.setdefault(f['scene'], {'frames': 0, 'false_boxes': 0, **_counts()})
        scene['frames'] += 1
        for o, mc, ma in zip(f['objects'], crop_match, any_match):
            hit = (ma if o['kind'] in TRANSPARENT else mc) is not None
            c = by_kind.setdefault(o['kind'], _counts())
            c['n'] += 1
            c['found'] += hit
            scene['n'] += 1
            scene['found'] += hit
            rows.append({'frame': f['name'], 'kind': o['kind'], 'found': bool(hit)})
        false = sum(all(d.box.iou(t) < 0.5 for t in truth) for d in kept)
        scene['false_boxes'] += false
    for s in by_scene.values():
        s['recall'] = _rate(s)
        s['false_per_frame'] = s['false_boxes'] / s['frames']
    for c in by_kind.values():
        c['recall'] = _rate(c)
    glasses = _counts()
    for k in GLASSES:
        glasses['n'] += by_kind.get(k, _counts())['n']
        glasses['found'] += by_kind.get(k, _counts())['found']
    return {
        'by_kind': by_kind,
        'by_scene': by_scene,
        'drinking_glasses': {**glasses, 'recall': _rate(glasses)},
        'frame_ms_p50': float(np.percentile(frame_ms, 50)) if frame_ms else None,
        'objects': rows,
    }


def read_yolo_labels(path: Path, width: int, height: int) -> list[tuple[int, Box]]:
    """(class id, box in pixels) for each line of a YOLO label file; [] when there is none."""
    out = []
    if not path.is_file():
        return out
    for line in path.read_text().split('\n'):
        parts = line.split()
        if len(parts) < 5:
            continue
        c, x, y, w, h = int(parts[0]), *map(float, parts[1:5])
        out.append((c, Box(x * width, y * height, w * width, h * height)))
    return out


def photo_pairs(folder: Path | str) -> list[tuple[Path, Path]]:
    """(image, label) pairs of a YOLO folder: ``images/**`` with ``labels/**`` beside it."""
    folder = Path(folder)
    images = sorted(
        p for p in (folder / 'images').rglob('*') if p.suffix.lower() in ('.jpg', '.jpeg', '.png')
    )
    if not images:
        raise FileNotFoundError(f'{folder}: no images under images/')
    return [
        (p, folder / 'labels' / p.relative_to(folder / 'images').with_suffix('.txt'))
        for p in images
    ]


def evaluate_photos(folder: Path | str, detector, conf: float | None = None) -> dict:
    """Cups and wine glasses found in YOLO-labelled photographs (COCO ids), false boxes."""
    per_class = {name: _counts() for name in ('cup', 'wine glass')}
    false, n_images = 0, 0
    for image_path, label_path in photo_pairs(folder):
        image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
        if image is None:
            continue
        n_images += 1
        h, w = image.shape[:2]
        labels = read_yolo_labels(label_path, w, h)
        kept = detect_like_node(detector, image, conf)
        for name, c in per_class.items():
            truth = [b for cid, b in labels if cid == COCO_IDS[name]]
            mine = [d.box for d in kept if d.class_name == name]
            match = match_boxes(truth, mine)
            c['n'] += len(truth)
            c['found'] += sum(m is not None for m in match)
        glassware = [b for cid, b in labels if cid in COCO_IDS.values()]
        false += sum(all(d.box.iou(t) < 0.5 for t in glassware) for d in kept)
    for c in per_class.values():
        c['recall'] = _rate(c)
    return {'images': n_images, 'by_class': per_class, 'false_per_image': false / max(n_images, 1)}


def coco_replay(source: Path | str, out: Path | str, split: str = 'coco') -> int:
    """
    Write ``source``'s YOLO folder (COCO ids) as split ``split`` of ``out``, detector classes.

    Labels become ``DETECTOR_CLASSES`` indices; other COCO classes are dropped, their images kept
    as photographs without glassware. Images are linked, not copied. Returns the labelled boxes.
    """
    out = Path(out)
    (out / 'images' / split).mkdir(parents=True, exist_ok=True)
    (out / 'labels' / split).mkdir(parents=True, exist_ok=True)
    remap = {COCO_IDS[name]: i for i, name in enumerate(DETECTOR_CLASSES)}
    boxes = 0
    for image_path, label_path in photo_pairs(source):
        link = out / 'images' / split / image_path.name
        if not link.exists():
            link.symlink_to(image_path.resolve())
        lines = []
        if label_path.is_file():
            for line in label_path.read_text().split('\n'):
                parts = line.split()
                if len(parts) >= 5 and int(parts[0]) in remap:
                    lines.append(' '.join([str(remap[int(parts[0])]), *parts[1:5]]))
        boxes += len(lines)
        (out / 'labels' / split / f'{image_path.stem}.txt').write_text(
            '\n'.join(lines) + ('\n' if lines else '')
        )
    return boxes


def real_crops(frames: list[dict], padding: float, size: int) -> list[tuple[str, np.ndarray, str]]:
    """(kind, crop, frame name) for every labelled glass and cup, cut as the detector cuts."""
    out = []
    for f in frames:
        image = cv2.imread(str(f['color']), cv2.IMREAD_COLOR)
        for o in f['objects']:
            if o['kind'] in FINE_CLASS:
                out.append((o['kind'], square_crop(image, Box.from_xyxy(*o['box']), padding, size),
                            f['name']))
    return out


def glass_cups(labels: Path | str = LABELS) -> set[tuple[str, int]]:
    """Return the COCO128 ``cup`` boxes that are clear drinking glasses: (image name, line)."""
    data = json.loads(Path(labels).read_text())
    return {(str(f), int(i)) for f, i in data.get('coco128_cups', {}).get('glass', [])}


def photo_boxes(folder: Path | str, glass=frozenset()):
    """
    Yield (kind, image path, label line, image, box) for every cup and wine glass of a YOLO folder.

    kind is 'cup', 'wine glass', or 'glass cup' for the cup boxes listed in ``glass`` ((image
    name, line) pairs: COCO calls some drinking glasses cups). Boxes under 8 px are skipped.
    """
    names = {COCO_IDS['cup']: 'cup', COCO_IDS['wine glass']: 'wine glass'}
    for image_path, label_path in photo_pairs(folder):
        image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
        if image is None:
            continue
        h, w = image.shape[:2]
        for line, (cid, box) in enumerate(read_yolo_labels(label_path, w, h)):
            if cid in names and min(box.w, box.h) >= 8:
                kind = 'glass cup' if (image_path.name, line) in glass else names[cid]
                yield kind, image_path, line, image, box


def photo_crops(folder: Path | str, padding: float, size: int, glass=frozenset()):
    """Yield (kind, crop) for every cup and wine glass of a YOLO folder (:func:`photo_boxes`)."""
    for kind, _, _, image, box in photo_boxes(folder, glass):
        yield kind, square_crop(image, box, padding, size)


def write_photo_crops(
    folder: Path | str,
    out: Path | str,
    fragile: tuple[str, ...],
    padding: float,
    size: int,
    copies: int = 1,
    jitter: float = 0.0,
    seed: int = 0,
    exclude: tuple[str, ...] = (),
) -> dict[str, int]:
    """
    Cut a YOLO folder's cups and glasses into training folders for ``glass-train --extra-data``.

    Opaque cups go to ``cup/``; the drinking glasses COCO calls cups (:func:`glass_cups`) and the
    wine glasses to ``'+'.join(fragile)`` (a glass of one of those classes, which one unknown).
    Each box is cut ``copies`` times: once as it is, then with its edges moved by up to ``jitter``
    of its size, as a detector's boxes are. Files are ``<image stem>_<line>_<copy>.png``; images
    named in ``exclude`` (file names) are left out, so a cross-validation fold can hold them out.
    Returns the number of files per folder.
    """
    if copies < 1:
        raise ValueError(f'copies must be at least 1, got {copies}')
    if not 0.0 <= jitter < 0.5:
        raise ValueError(f'jitter must be within [0, 0.5), got {jitter}')
    rng = np.random.default_rng(seed)
    out = Path(out)
    folders = {'cup': 'cup', 'glass cup': '+'.join(fragile), 'wine glass': '+'.join(fragile)}
    counts: dict[str, int] = {}
    for kind, image_path, line, image, box in photo_boxes(folder, glass_cups()):
        if image_path.name in exclude:
            continue
        sub = out / folders[kind]
        sub.mkdir(parents=True, exist_ok=True)
        x0, y0, x1, y1 = box.xyxy()
        for k in range(copies):
            d = np.zeros(4)
            if k:  # the first cut is the true box
                d = rng.uniform(-jitter, jitter, 4) * [box.w, box.h, box.w, box.h]
            cut = Box.from_xyxy(x0 + d[0], y0 + d[1], x1 + d[2], y1 + d[3])
            name = f'{image_path.stem}_{line}_{k}.png'
            cv2.imwrite(str(sub / name), square_crop(image, cut, padding, size))
            counts[folders[kind]] = counts.get(folders[kind], 0) + 1
    if not counts:
        raise ValueError(f'{folder}: no cup or wine-glass boxes (COCO ids 41, 40) to cut')
    return counts


def evaluate_real_classifier(classifier, frames, photos, padding, size, fragile, threshold):
    """
    Score the classifier on real crops cut around the true boxes.

    Cups called ``cup``; glasses called fragile (summed ``fragile`` probability >= ``threshold``,
    as the node decides); beer against shot glasses where the label says which.
    """
    names = list(classifier.class_names)
    frag_idx = [names.index(c) for c in fragile]
    report = {
        'cups_called_cup': _counts(),
        'glasses_fragile': _counts(),
        'beer_vs_shot': _counts(),
        'coco_cups_called_cup': _counts(),
        'coco_glass_cups_fragile': _counts(),
        'coco_wine_glasses_fragile': _counts(),
    }
    crops = real_crops(frames, padding, size)
    if crops:
        probs = classifier.predict([c for _, c, _ in crops])
        for (kind, _, _), p in zip(crops, probs):
            best = names[int(np.argmax(p))]
            if FINE_CLASS[kind] == 'cup':
                c = report['cups_called_cup']
                c['n'] += 1
                c['found'] += best == 'cup'
            else:
                c = report['glasses_fragile']
                c['n'] += 1
                c['found'] += float(p[frag_idx].sum()) >= threshold
                if FINE_CLASS[kind] is not None:
                    c = report['beer_vs_shot']
                    c['n'] += 1
                    c['found'] += best == FINE_CLASS[kind]
    if photos is not None:
        pc = list(photo_crops(photos, padding, size, glass_cups()))
        if pc:
            probs = classifier.predict([c for _, c in pc])
            for (name, _), p in zip(pc, probs):
                if name == 'cup':
                    c = report['coco_cups_called_cup']
                    c['found'] += names[int(np.argmax(p))] == 'cup'
                else:
                    glass = name == 'glass cup'
                    c = report['coco_glass_cups_fragile' if glass else 'coco_wine_glasses_fragile']
                    c['found'] += float(p[frag_idx].sum()) >= threshold
                c['n'] += 1
    for c in report.values():
        c['rate'] = _rate(c)
    return report


def _pct(c: dict, key: str = 'recall') -> str:
    v = c.get(key)
    return f"{c['found']}/{c['n']} ({100 * v:.0f}%)" if v is not None else f"{c['found']}/0"


def format_real_report(report: dict) -> str:
    lines = ['real RGB-D frames (labels: glass_perception/data/real/labels.json)']
    lines.append(f"  drinking glasses found: {_pct(report['drinking_glasses'])}")
    for kind, c in sorted(report['by_kind'].items()):
        lines.append(f'    {kind:12s} {_pct(c)}')
    for scene, s in sorted(report['by_scene'].items()):
        lines.append(
            f"  scene {scene}: {_pct(s)} of {s['frames']} frames' objects, "
            f"{s['false_per_frame']:.2f} false crop-class boxes a frame"
        )
    if report.get('frame_ms_p50') is not None:
        lines.append(f"  detector time a frame p50 {report['frame_ms_p50']:.1f} ms")
    return '\n'.join(lines)


def format_photo_report(report: dict, folder) -> str:
    lines = [f"photographs {folder} ({report['images']} images)"]
    for name, c in report['by_class'].items():
        lines.append(f'  {name:10s} found {_pct(c)}')
    lines.append(f"  false cup/wine-glass boxes an image: {report['false_per_image']:.2f}")
    return '\n'.join(lines)


def format_classifier_report(report: dict) -> str:
    labels = {
        'cups_called_cup': 'real RGB-D cups called cup',
        'glasses_fragile': 'real RGB-D glasses called fragile',
        'beer_vs_shot': 'real RGB-D beer/shot glasses given their class',
        'coco_cups_called_cup': 'photographed opaque cups called cup',
        'coco_glass_cups_fragile': "photographed glasses COCO calls 'cup', called fragile",
        'coco_wine_glasses_fragile': 'photographed wine glasses called fragile',
    }
    return '\n'.join(f'  {labels[k]}: {_pct(c, "rate")}' for k, c in report.items())


def read_intrinsics(path: Path | str) -> tuple[float, float, float, float]:
    """
    Read (fx, fy, cx, cy) from a calibration file.

    A ROS camera_info YAML (``camera_matrix``), an OpenCV FileStorage file (``camera/K`` or
    ``K``, as OpenCV's calibration writes it), or a flat file of ``fx: ... fy: ... cx: ... cy:``
    lines (ClearGrasp's ``camera_intrinsics.yaml`` and ``camera_parameters.txt``).
    """
    import re

    path = Path(path)
    text = path.read_text(errors='replace')
    if 'camera_matrix' in text:
        from ..core.camera_model import parse_camera_info_yaml

        k = parse_camera_info_yaml(text)['k']
        return float(k[0]), float(k[4]), float(k[2]), float(k[5])
    if text.lstrip().startswith('%YAML') or '!!opencv-matrix' in text:
        fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
        for node in ('camera', ''):
            n = fs.getNode(node).getNode('K') if node else fs.getNode('K')
            k = n.mat() if not n.empty() else None
            if k is not None and k.shape == (3, 3):
                return float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2])
    found = {}
    for key in ('fx', 'fy', 'cx', 'cy'):
        m = re.search(rf'^\s*{key}\s*[:=]\s*([-+0-9.eE]+)', text, re.MULTILINE)
        if m:
            found[key] = float(m.group(1))
    if len(found) == 4:
        return found['fx'], found['fy'], found['cx'], found['cy']
    raise ValueError(f'{path}: no camera matrix (camera_matrix, K, or fx/fy/cx/cy) found')


def import_rgbd(
    pairs: list[tuple[Path, Path]],
    fxy_cxy,
    out: Path | str,
    unit: str = 'auto',
    camera_name: str = 'imported_rgbd',
    max_depth: float = 10.0,
) -> int:
    """
    Write colour and depth pairs as an ``rgbd:DIR`` folder; return the frames written.

    ``camera_info.yaml`` from ``fxy_cxy`` and the frames' size; ``color/NNNNNN.png`` (colour as
    given, lossless) and ``depth/NNNNNN.png`` (16-bit millimetres, 0 = none, aligned to colour;
    depth beyond ``max_depth`` metres, such as the 65 m a RealSense EXR holds for no return,
    becomes none).
    Frames whose colour and depth sizes differ, or whose size differs from the first frame's,
    raise ValueError naming them: colour and depth must be registered already.
    """
    from ..core.atomic import atomic_write_text
    from .rgbd import camera_info_yaml

    out = Path(out)
    (out / 'color').mkdir(parents=True, exist_ok=True)
    (out / 'depth').mkdir(parents=True, exist_ok=True)
    size = None
    for i, (colour_path, depth_path) in enumerate(pairs):
        image = cv2.imread(str(colour_path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f'{colour_path}: not a readable image')
        depth = read_depth_m(depth_path, unit)
        if depth.shape != image.shape[:2]:
            raise ValueError(
                f'{depth_path}: depth is {depth.shape[1]}x{depth.shape[0]}, its colour image '
                f'{colour_path.name} {image.shape[1]}x{image.shape[0]}: register depth to colour'
            )
        if size is None:
            size = (image.shape[1], image.shape[0])
        elif size != (image.shape[1], image.shape[0]):
            raise ValueError(f'{colour_path}: {image.shape[1]}x{image.shape[0]}, not {size}')
        depth = np.where(depth <= max_depth, depth, 0.0)
        mm = np.clip(np.round(depth * 1000.0), 0, 65535).astype(np.uint16)
        cv2.imwrite(str(out / 'color' / f'{i:06d}.png'), image)
        cv2.imwrite(str(out / 'depth' / f'{i:06d}.png'), mm)
    if size is None:
        raise ValueError('no frames to import')
    atomic_write_text(out / 'camera_info.yaml', camera_info_yaml(camera_name, fxy_cxy, size))
    return len(pairs)


def import_labelled(out: Path | str, labels: Path | str = LABELS) -> dict[str, int]:
    """Import every labelled real frame, one ``rgbd:DIR`` folder per camera; frames per folder."""
    groups: dict[tuple, list] = {}
    for f in load_labels(labels):
        groups.setdefault((f['name'].split('/')[0], tuple(f['k'])), []).append(f)
    written = {}
    for (name, k), frames in groups.items():
        pairs = [(f['color'], f['depth']) for f in frames]
        written[name] = import_rgbd(pairs, k, Path(out) / name, 'm', name)
    return written


def localize_real_frames(frames: list[dict], localizer, max_depth: float = 3.0):
    """
    Run the localizer on the labelled real RGB-D frames' true boxes; yield (frame, rows, image).

    These frames have no 3D truth: each row says what the localizer reports for one labelled
    object (base in the optical frame, distance, height, diameter, the view's elevation above
    the support, the support's height above the dominant plane around it, method and flag), and
    the image shows it drawn over the colour frame (``core.overlay.draw_upright``). Depth beyond
    ``max_depth`` metres is dropped (ClearGrasp's D415 frames hold spurious readings over 3 m).
    """
    from ..core.camera_model import Intrinsics
    from ..core.localizer import fit_plane, view_elevation
    from ..core.overlay import draw_upright
    from ..core.synthetic import CLASSES

    for f in frames:
        image = cv2.imread(str(f['color']), cv2.IMREAD_COLOR)
        depth = read_depth_m(f['depth'])
        depth = np.where((depth > 0) & (depth <= max_depth), depth, np.nan).astype(np.float32)
        h, w = depth.shape
        fx, fy, cx, cy = f['k']
        camera = Intrinsics.from_k(w, h, [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0])
        boxes = [Box.from_xyxy(*o['box']) for o in f['objects']]
        drawn = image.copy()
        rows = []
        for i, (o, box) in enumerate(zip(f['objects'], boxes)):
            label = FINE_CLASS.get(o['kind']) if o['kind'] in FINE_CLASS else None
            label = label if label in CLASSES else None
            others = boxes[:i] + boxes[i + 1:]
            loc = localizer.locate(box, depth, camera, label, others)
            points = localizer.surface_points(box, depth, camera, others)
            dominant = fit_plane(points, 0.006, localizer.config) if len(points) else None
            raised = (
                float(dominant.d - loc.plane.d) if dominant is not None and loc.plane else None
            )
            row = {
                'frame': f['name'],
                'kind': o['kind'],
                'note': o.get('note', ''),
                'base': [round(float(v), 4) for v in loc.base],
                'distance_m': round(loc.distance, 3),
                'height_cm': round(100 * loc.height, 1),
                'diameter_cm': round(100 * loc.diameter, 1),
                'elevation_deg': (
                    round(view_elevation(box, camera, loc.plane), 1) if loc.plane else None
                ),
                'support_above_dominant_cm': None if raised is None else round(100 * raised, 1),
                'method': loc.method,
                'size_measured': loc.size_measured,
                'flag': loc.flag,
            }
            rows.append(row)
            text = f"{o['kind']} {loc.distance:.2f} m\nh {100 * loc.height:.1f} cm"
            if raised is not None and abs(raised) > 0.004:
                text += f'\non {100 * raised:+.1f} cm'
            if loc.flag:
                text += '\nFLAGGED'
            draw_upright(
                drawn, camera, loc.base, loc.axis, loc.height, loc.diameter, text, bool(loc.flag)
            )
        yield f, rows, drawn


def format_real_3d(rows: list[dict]) -> str:
    """Return the rows of localize_real_frames as a table."""
    out = [
        f'{"frame":<30} {"kind":<12} {"base x, y, z (m)":<24} {"dist":>5} {"h cm":>5} '
        f'{"d cm":>5} {"elev":>5} {"raised":>6}  flag'
    ]
    for r in rows:
        x, y, z = r['base']
        elev = '-' if r['elevation_deg'] is None else f'{r["elevation_deg"]:.0f}'
        raised = r['support_above_dominant_cm']
        out.append(
            f'{r["frame"]:<30} {r["kind"]:<12} {f"{x:+.3f}, {y:+.3f}, {z:.3f}":<24} '
            f'{r["distance_m"]:>5.2f} {r["height_cm"]:>5.1f} {r["diameter_cm"]:>5.1f} '
            f'{elev:>5} {"-" if raised is None else f"{raised:+.1f}":>6}  {r["flag"] or "-"}'
        )
    return '\n'.join(out)
