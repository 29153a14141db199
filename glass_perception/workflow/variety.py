"""
The wide generator: more of what real glassware, tables, lights and cameras vary.

``make_recipe(..., variety='wide')`` (``glass-synth detect --variety wide``) draws its scenes from
this module on top of the classic recipe, which stays as it was so every earlier command still
renders the same scenes:

* **Shape families as they exist** (:data:`WIDE_VARIANTS`): beer in pints, nonic pints (the
  bulge under the rim), pilsners, weizen glasses, stemmed tulips and steins; soju in straight,
  tapered and flared shot glasses with heavy bases, empty or with clear liquid; cups as mugs,
  paper cups, red or blue plastic cups, tumblers, espresso cups and tea cups. Thinner and thicker
  glass, fills from a finger to the brim, and smudged glass (a rough dielectric) on about a third
  of the glasses.
* **Photographed surfaces**: tables and walls are sometimes textured with photographs that
  scikit-image ships in its wheel (:data:`PHOTOS`, each with its licence and source), tinted and
  scaled, and the wall may carry framed photographs; otherwise the classic procedural textures.
* **Light** from one to three area lights of different colours (warm, neutral, cool, tinted).
* **Camera effects**: white balance, exposure, defocus, motion blur, sensor noise and JPEG.
* **Distances** 30-150 cm from the target (classic: 35-85), so more glasses are small and far.

**Held out** (:data:`HELD_OUT_FAMILIES`, :data:`HELD_OUT_PHOTOS`): ``families='train'`` never draws
the tea cup, the tulip, the flared shot glass or the gravel and astronaut photographs;
``families='unseen'`` draws its glassware only from those families and its table from the held-out
photograph in half of the scenes, so a model trained on 'train' scenes is measured on shapes and
textures it has never seen.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

#: Shape families per kind in the wide generator (classic ones first).
WIDE_VARIANTS = {
    'cup': ('mug', 'paper_cup', 'tumbler', 'espresso', 'plastic_cup', 'tea_cup'),
    'beer_glass': ('pint', 'nonic', 'pilsner', 'weizen', 'beer_mug', 'tulip'),
    'soju_glass': ('shot_straight', 'shot_tapered', 'shot_flared'),
    'bottle': ('bottle',),
    'bowl': ('bowl',),
}
#: Families no 'train' scene draws: the unseen-family figures are measured on them.
HELD_OUT_FAMILIES = ('tea_cup', 'tulip', 'shot_flared')
FAMILY_SETS = ('all', 'train', 'unseen')

#: Photographs scikit-image ships in its wheel (``skimage.data``), with their licences.
PHOTOS = {
    'brick': ('a brick wall', 'CC0 (cc0textures.com, Bricks25)'),
    'grass': ('grass', 'CC0 (DeviantArt, linolafett, Grass-01)'),
    'gravel': ('gravel', 'CC0 (cc0textures.com, Gravel04)'),
    'chelsea': ('a cat (a framed picture)', 'CC0 (Stefan van der Walt)'),
    'rocket': ('a rocket launch (a framed picture)', 'public domain (SpaceX)'),
    'astronaut': ('an astronaut (a framed picture)', 'public domain (NASA)'),
}
SURFACE_PHOTOS = ('brick', 'grass', 'gravel')
PICTURE_PHOTOS = ('chelsea', 'rocket', 'astronaut')
HELD_OUT_PHOTOS = ('gravel', 'astronaut')

_photo_cache: dict[str, np.ndarray] = {}


def photo(name: str) -> np.ndarray:
    """Return one of :data:`PHOTOS` as float32 RGB in [0, 1] (ImportError without scikit-image)."""
    if name not in _photo_cache:
        try:
            from skimage import data
        except ImportError as e:
            raise ImportError(
                f'the wide generator textures tables with scikit-image photographs ({e}); '
                'pip install scikit-image'
            ) from e
        img = np.asarray(getattr(data, name)(), np.float32) / 255.0
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        _photo_cache[name] = img[..., :3]
    return _photo_cache[name]


def families(kind: str, family_set: str) -> tuple[str, ...]:
    """Return the shape families ``kind`` draws from in ``family_set`` (all, train, unseen)."""
    if family_set not in FAMILY_SETS:
        raise ValueError(f"family set '{family_set}' is not one of {', '.join(FAMILY_SETS)}")
    every = WIDE_VARIANTS[kind]
    if family_set == 'all':
        return every
    seen = tuple(v for v in every if v not in HELD_OUT_FAMILIES)
    if family_set == 'train':
        return seen
    unseen = tuple(v for v in every if v in HELD_OUT_FAMILIES)
    return unseen or seen  # bottles and bowls stay as distractors


def photos(pool: tuple[str, ...], family_set: str) -> tuple[str, ...]:
    """Return the photographs of ``pool`` that ``family_set`` may use."""
    if family_set == 'train':
        return tuple(p for p in pool if p not in HELD_OUT_PHOTOS)
    if family_set == 'unseen':
        return tuple(p for p in pool if p in HELD_OUT_PHOTOS) or pool
    return pool


def profile(rng, variant: str):
    """
    Draw (height_cm, radius r(t), has a handle, material, inner bottom height) for a new family.

    Returns None for the classic families (``core.synthetic.object_profile`` draws those).
    """
    u = rng.uniform
    if variant == 'nonic':
        h, rb, rt = u(14.0, 16.5), u(2.7, 3.1), u(3.8, 4.2)
        bulge = u(0.25, 0.4)
        return (
            h,
            lambda t: rb + (rt - rb) * t + bulge * np.exp(-(((t - 0.82) / 0.07) ** 2)),
            False,
            'glass',
            None,
        )
    if variant == 'tulip':  # a foot, a stem, a bowl that narrows and flares at the rim
        h, foot, stem = u(15.0, 19.0), u(2.8, 3.4), u(0.45, 0.6)
        ts, rmax, rneck = u(0.22, 0.3), u(3.5, 4.1), u(2.9, 3.3)

        def r(t):
            t = np.asarray(t, np.float64)
            bowl = (t - ts) / (1.0 - ts)
            shape = np.where(
                bowl < 0.55,
                stem + (rmax - stem) * np.sin(np.clip(bowl / 0.55, 0, 1) * math.pi / 2) ** 0.7,
                rmax + (rneck - rmax) * np.clip((bowl - 0.55) / 0.33, 0, 1),
            )
            shape = np.where(bowl > 0.88, rneck + (bowl - 0.88) / 0.12 * 0.35, shape)
            return np.where(t < 0.02, foot, np.where(t < ts, stem, shape))

        return h, r, False, 'glass', ts * h
    if variant == 'shot_flared':
        h, rb, rt = u(5.0, 7.0), u(1.5, 1.9), u(2.4, 3.0)
        return h, lambda t: rb + (rt - rb) * t**2, False, 'glass', u(1.2, 2.2)
    if variant == 'tea_cup':
        h, rb, rt = u(5.0, 7.0), u(2.0, 2.6), u(3.9, 4.8)
        return h, lambda t: rb + (rt - rb) * np.sqrt(t), True, 'ceramic', None
    if variant == 'plastic_cup':
        h, rb, rt = u(9.5, 12.0), u(2.5, 3.0), u(4.1, 4.7)
        return h, lambda t: rb + (rt - rb) * t, False, 'plastic', None
    return None


def glass_bsdf(rng, bsdf: dict) -> dict:
    """Smudge about a third of the glasses: the same glass as a slightly rough dielectric."""
    if rng.random() < 0.33:
        return {**bsdf, 'type': 'roughdielectric', 'alpha': float(rng.uniform(0.01, 0.05))}
    return bsdf


def plastic_cup_bsdf(rng) -> dict:
    """Saturated, slightly rough plastic: party-cup red, blue, green, or a printed white."""
    colour = [(0.7, 0.05, 0.05), (0.08, 0.2, 0.7), (0.1, 0.55, 0.2), (0.9, 0.9, 0.88)][
        int(rng.integers(0, 4))
    ]
    return {
        'type': 'roughplastic',
        'diffuse_reflectance': {'type': 'rgb', 'value': [float(c) for c in colour]},
        'alpha': float(rng.uniform(0.08, 0.3)),
    }


def photo_texture(rng, name: str, size: int = 256) -> np.ndarray:
    """Cut, tint and scale a photograph into a square texture (float32 RGB)."""
    img = photo(name)
    h, w = img.shape[:2]
    side = int(rng.uniform(0.4, 1.0) * min(h, w))
    y0, x0 = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    tex = cv2.resize(
        img[y0: y0 + side, x0: x0 + side], (size, size), interpolation=cv2.INTER_AREA
    )
    tint = rng.uniform(0.6, 1.15, 3).astype(np.float32)
    return np.clip(tex * tint * rng.uniform(0.7, 1.1), 0.02, 0.95).astype(np.float32)


def add_pictures(rng, wall: np.ndarray, family_set: str) -> np.ndarray:
    """Hang one or two framed photographs on a wall texture."""
    wall = wall.copy()
    size = wall.shape[0]
    pool = photos(PICTURE_PHOTOS, family_set)
    for _ in range(int(rng.integers(1, 3))):
        img = photo(str(rng.choice(pool)))
        w = int(rng.integers(size // 8, size // 3))
        h = max(4, int(w * img.shape[0] / img.shape[1] * 3))  # the wall is stretched 3:1
        x0, y0 = int(rng.integers(0, size - w)), int(rng.integers(0, max(1, size - h)))
        frame = cv2.resize(img, (w, min(h, size - y0)), interpolation=cv2.INTER_AREA)
        wall[y0: y0 + frame.shape[0], x0: x0 + w] = np.clip(frame * 0.9, 0, 1)
    return wall


def extra_lights(rng) -> list[tuple[tuple[float, float, float], float, tuple[float, ...]]]:
    """Draw zero to two more area lights (position in cm, size, RGB radiance), of other colours."""
    out = []
    for _ in range(int(rng.integers(0, 3))):
        angle = rng.uniform(-math.pi, math.pi)
        colour = [
            (1.0, 0.72, 0.45),  # 2700 K bulb
            (1.0, 0.95, 0.9),  # neutral
            (0.8, 0.9, 1.0),  # daylight, cool
            tuple(rng.uniform(0.4, 1.0, 3)),  # a tinted LED
        ][int(rng.integers(0, 4))]
        out.append(
            (
                (
                    float(rng.uniform(30, 90) * math.sin(angle)),
                    float(rng.uniform(30.0, 120.0)),
                    float(rng.uniform(30, 90) * math.cos(angle)),
                ),
                float(rng.uniform(5.0, 30.0)),
                tuple(float(c) * float(rng.uniform(0.5, 4.0)) for c in colour),
            )
        )
    return out


def camera_effects(rng) -> dict:
    """Draw white balance gains, a motion blur (length px, angle) and a JPEG quality."""
    return {
        'white_balance': tuple(float(g) for g in rng.uniform(0.85, 1.15, 3)),
        'motion_blur': (int(rng.choice([0, 0, 0, 3, 5, 7, 9])), float(rng.uniform(0, 180))),
        'jpeg_quality': int(rng.choice([0, 0, 40, 60, 75, 90])),
        'defocus': int(rng.choice([0, 0, 0, 0, 2, 3])),
    }


def apply_camera_effects(image: np.ndarray, fx: dict) -> np.ndarray:
    """Apply :func:`camera_effects` to a BGR uint8 image (after sensor noise, as a camera does)."""
    out = image.astype(np.float32) * np.array(fx['white_balance'][::-1], np.float32)
    out = np.clip(out, 0, 255).astype(np.uint8)
    radius = fx.get('defocus', 0)
    if radius:
        disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        out = cv2.filter2D(out, -1, disk.astype(np.float32) / disk.sum())
    length, angle = fx['motion_blur']
    if length > 1:
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2, :] = 1.0 / length
        rot = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), angle, 1.0)
        kernel = cv2.warpAffine(kernel, rot, (length, length))
        out = cv2.filter2D(out, -1, kernel / max(float(kernel.sum()), 1e-6))
    if fx['jpeg_quality']:
        ok, buf = cv2.imencode('.jpg', out, [cv2.IMWRITE_JPEG_QUALITY, fx['jpeg_quality']])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return out
