"""
Procedural table-top scenes of cups, beer glasses and soju glasses, with ground truth.

This is the camera node's ``synthetic`` source and the training data of the default models. It is
a fast 2.5-D renderer (numpy + OpenCV), not a path tracer: objects are lathe shapes (a radius
profile along the height) seen from slightly above; glass refracts the background behind it
(a compressed, mirrored sample), has dark walls, specular streaks and a rim, and may hold beer
with foam, water/soju or nothing; cups are opaque ceramic mugs with handles, paper cups and
tumblers; bottles and bowls are distractors. Sizes, proportions, tints, fills, lighting,
backgrounds, noise and blur are randomised so that no single cue (size, colour) separates the
classes. Every scene is a pure function of (seed, index, width, height).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .geometry import Box

#: Fine classes the classifier tells apart, in class-index order.
CLASSES: tuple[str, ...] = ('cup', 'beer_glass', 'soju_glass')
#: Detector classes, named as in COCO so a COCO-trained YOLO is a drop-in replacement.
DETECTOR_CLASSES: tuple[str, ...] = ('cup', 'wine glass', 'bottle', 'bowl')
#: What each kind of object is called by the detector.
DETECTOR_NAME = {
    'cup': 'cup',
    'beer_glass': 'wine glass',
    'soju_glass': 'wine glass',
    'bottle': 'bottle',
    'bowl': 'bowl',
}


@dataclass
class SceneObject:
    kind: str  # cup, beer_glass, soju_glass, bottle or bowl
    variant: str  # mug, pint, shot_tapered, ...
    box: Box  # tight box in image pixels (the visible extent)
    visibility: float = (
        1.0  # fraction of the object not hidden by others (physically based renderer)
    )
    track_id: int | None = None  # the same object in every frame of a sequence
    distance: float | None = None  # metres from the camera to the middle of its axis (pbr)

    @property
    def detector_name(self) -> str:
        return DETECTOR_NAME[self.kind]

    @property
    def is_glassware(self) -> bool:
        return self.kind in CLASSES


@dataclass
class Scene:
    image: np.ndarray  # HxWx3 uint8, BGR
    objects: list[SceneObject] = field(default_factory=list)
    meta: dict = field(default_factory=dict)  # how the scene was drawn (table, wall, lights)

    def glassware(self) -> list[SceneObject]:
        return [o for o in self.objects if o.is_glassware]


# --------------------------------------------------------------------------------------------
# Object shapes: (kind, variant) -> parameters drawn from the rng. Units are centimetres.


def object_profile(rng, variant):
    """
    Draw (height_cm, outer radius r(t) over t in [0,1] in cm, has a handle, material).

    Shared by both renderers.
    """
    u = rng.uniform
    if variant == 'mug':
        h, r = u(7.5, 11.0), u(3.4, 4.6)
        return h, lambda t: np.full_like(t, r), True, 'ceramic'
    if variant == 'paper_cup':
        h, rb, rt = u(8.0, 12.5), u(2.4, 3.1), u(3.6, 4.6)
        return h, lambda t: rb + (rt - rb) * t, False, 'paper'
    if variant == 'tumbler':
        h, rb, rt = u(7.0, 12.0), u(2.8, 3.6), u(3.2, 4.3)
        return h, lambda t: rb + (rt - rb) * t, False, 'ceramic'
    if variant == 'espresso':
        h, r = u(5.0, 7.0), u(2.6, 3.4)
        return h, lambda t: r * (0.8 + 0.2 * np.sqrt(t)), True, 'ceramic'
    if variant == 'pint':
        h, rb, rt = u(13.0, 16.5), u(2.7, 3.2), u(3.9, 4.5)
        return h, lambda t: rb + (rt - rb) * t, False, 'glass'
    if variant == 'pilsner':
        h, rb, rt = u(17.0, 23.0), u(1.9, 2.5), u(3.3, 4.1)
        return h, lambda t: rb + (rt - rb) * t**1.3, False, 'glass'
    if variant == 'weizen':
        h, rb, rt = u(20.0, 25.0), u(2.2, 2.7), u(3.6, 4.2)
        return (
            h,
            lambda t: (
                rb
                + (rt - rb) * (0.5 - 0.5 * np.cos(np.pi * t))
                - 0.5 * np.sin(np.pi * t * 1.6).clip(0) * (t > 0.55)
            ),
            False,
            'glass',
        )
    if variant == 'beer_mug':
        h, r = u(12.0, 16.0), u(3.6, 4.6)
        return h, lambda t: np.full_like(t, r), True, 'glass'
    if variant == 'shot_straight':
        h, r = u(4.8, 7.5), u(1.8, 2.6)
        return h, lambda t: np.full_like(t, r), False, 'glass'
    if variant == 'shot_tapered':
        h, rb, rt = u(4.8, 7.5), u(1.5, 2.0), u(2.1, 2.8)
        return h, lambda t: rb + (rt - rb) * t, False, 'glass'
    if variant == 'bottle':
        h, r = u(20.0, 28.0), u(2.8, 3.8)
        rn = r * u(0.3, 0.4)
        return (
            h,
            lambda t: np.where(
                t < 0.6, r, np.where(t < 0.75, r + (rn - r) * (t - 0.6) / 0.15, rn)
            ),
            False,
            'bottle',
        )
    if variant == 'bowl':
        h, rb, rt = u(4.5, 7.5), u(3.0, 4.5), u(7.0, 9.5)
        return h, lambda t: rb + (rt - rb) * np.sqrt(t), False, 'ceramic'
    raise ValueError(variant)


#: what a scene draws its objects from: glassware twice as often as the distractors
ALL_KINDS = (
    'cup',
    'beer_glass',
    'soju_glass',
    'cup',
    'beer_glass',
    'soju_glass',
    'bottle',
    'bowl',
)

VARIANTS = {
    'cup': ('mug', 'mug', 'paper_cup', 'tumbler', 'espresso'),
    'beer_glass': ('pint', 'pint', 'pilsner', 'weizen', 'beer_mug'),
    'soju_glass': ('shot_straight', 'shot_tapered'),
    'bottle': ('bottle',),
    'bowl': ('bowl',),
}


# --------------------------------------------------------------------------------------------
# Backgrounds


def _background(rng, width, height):
    horizon = int(height * rng.uniform(0.15, 0.5))
    wall = np.array(rng.uniform(60, 230, 3), dtype=np.float32)
    table = np.array(rng.uniform(30, 220, 3), dtype=np.float32)
    ys = np.arange(height, dtype=np.float32)[:, None]
    xs = np.arange(width, dtype=np.float32)[None, :]
    img = np.empty((height, width, 3), np.float32)
    grad = (1.0 + rng.uniform(-0.25, 0.25) * (xs / width - 0.5))[..., None]
    img[:horizon] = wall * grad
    style = rng.integers(0, 4)
    ty = ys[horizon:] - horizon
    if style == 0:  # wood grain
        freq = rng.uniform(0.02, 0.08)
        grain = np.sin(xs * freq + 3.0 * np.sin(ty * 0.01 + xs * 0.003)) * 0.12
        tex = 1.0 + grain + 0.05 * np.sin(xs * freq * 7.3)
    elif style == 1:  # checker / tiles
        cell = rng.uniform(20, 70)
        tex = 1.0 + 0.18 * (((xs // cell) + (ty // (cell * 0.6))) % 2 - 0.5)
    elif style == 2:  # cloth
        tex = 1.0 + 0.06 * np.sin(xs * 0.9) * np.sin(ty * 0.9)
    else:  # plain with a soft light pool
        cx, cy = rng.uniform(0, width), rng.uniform(horizon, height)
        tex = 1.15 - 0.3 * np.clip(np.hypot(xs - cx, ys[horizon:] - cy) / width, 0, 1)
    img[horizon:] = table * np.broadcast_to(tex, (height - horizon, width))[..., None]
    # clutter on the wall: a few soft rectangles (windows, pictures) for glass to refract
    for _ in range(rng.integers(0, 4)):
        x0, y0 = rng.integers(0, width), rng.integers(0, max(1, horizon))
        x1, y1 = x0 + rng.integers(20, width // 3), y0 + rng.integers(10, max(11, horizon))
        cv2.rectangle(
            img, (int(x0), int(y0)), (int(x1), int(y1)), rng.uniform(0, 255, 3).tolist(), -1
        )
    img[horizon - 1: horizon + 1] *= 0.7
    return img, horizon


# --------------------------------------------------------------------------------------------
# Drawing one lathe object


def _draw_object(img, rng, kind, variant, cx, base_y, scale, tilt, light):
    """Draw into ``img`` (float32, modified in place); return the tight box or None."""
    h_cm, radius, handle, material = object_profile(rng, variant)
    H = h_cm * scale
    rmax = float(np.max(radius(np.linspace(0, 1, 64)))) * scale
    top_r = float(radius(np.array([1.0]))[0]) * scale
    bot_r = float(radius(np.array([0.0]))[0]) * scale
    hx = int(rmax * 0.9) + 2 if handle else 0
    handle_side = 1 if rng.random() < 0.5 else -1
    x0 = int(cx - rmax - (hx if handle_side < 0 else 0)) - 2
    x1 = int(cx + rmax + (hx if handle_side > 0 else 0)) + 3
    y0 = int(base_y - H - top_r * tilt) - 2
    y1 = int(base_y + bot_r * tilt) + 3
    hgt, wid = img.shape[:2]
    if x0 < 0 or y0 < 0 or x1 > wid or y1 > hgt:
        return None
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    t = np.clip((base_y - ys) / H, 0.0, 1.0)
    r = np.maximum(radius(t) * scale, 1e-3)
    u = (xs - cx) / r  # -1..1 across the body
    in_side = (np.abs(u) <= 1.0) & (ys <= base_y) & (ys >= base_y - H)
    in_bottom = ((xs - cx) / max(bot_r, 1e-3)) ** 2 + (
        (ys - base_y) / max(bot_r * tilt, 1e-3)
    ) ** 2 <= 1
    top_y = base_y - H
    in_top = ((xs - cx) / max(top_r, 1e-3)) ** 2 + (
        (ys - top_y) / max(top_r * tilt, 1e-3)
    ) ** 2 <= 1
    body = in_side | in_bottom | in_top
    patch = img[y0:y1, x0:x1]
    shade = np.clip(0.55 + 0.45 * np.cos(np.arcsin(np.clip(u, -1, 1)) - light), 0.25, 1.1)[
        ..., None
    ]

    handle_mask = np.zeros(body.shape, np.uint8)
    if handle:
        hcx = int(cx + handle_side * rmax - x0)
        hcy = int(base_y - H * 0.5 - y0)
        th = max(2, int(scale * rng.uniform(0.5, 0.9)))
        cv2.ellipse(
            handle_mask,
            (hcx, hcy),
            (max(2, hx - th), max(3, int(H * 0.3))),
            0,
            -90 if handle_side > 0 else 90,
            90 if handle_side > 0 else 270,
            1,
            th,
        )
        handle_mask[body] = 0
    hm = handle_mask.astype(bool)

    if material in ('ceramic', 'paper', 'bottle'):
        if material == 'paper':
            base = rng.uniform(150, 255, 3)
            stripe = rng.uniform(0, 255, 3)
        else:
            base = rng.uniform(20, 250, 3)
            stripe = base
        color = np.broadcast_to(base, body.shape + (3,)).copy()
        if material == 'paper':
            band = (t > rng.uniform(0.3, 0.5)) & (t < rng.uniform(0.6, 0.8))
            color[band] = stripe
        col = color * shade
        if material == 'bottle':
            alpha = rng.uniform(0.75, 0.95)
            col = (
                rng.choice(
                    [np.array([30, 90, 40]), np.array([20, 60, 110]), np.array([120, 130, 110])]
                )
                * shade
                * rng.uniform(0.6, 1.4)
            )
            streak = np.exp(-(((u + 0.45) / 0.12) ** 2))[..., None] * 120
            col = col + streak
            patch[body] = patch[body] * (1 - alpha) + col[body] * alpha
        else:
            patch[body] = col[body]
            # the inside seen through the rim: darker, or a drink
            inner = ((xs - cx) / max(top_r * 0.9, 1e-3)) ** 2 + (
                (ys - top_y) / max(top_r * tilt * 0.9, 1e-3)
            ) ** 2 <= 1
            drink = (
                rng.choice([0.35, 0.6]) * base
                if rng.random() < 0.5
                else np.array([20, 45, 75]) * rng.uniform(0.6, 1.3)
            )
            patch[inner] = drink
        if hm.any():
            patch[hm] = np.broadcast_to(base * 0.8, patch.shape)[hm]
    else:  # glass
        tint = np.array([1.0, 1.0, 1.0]) - rng.uniform(0.0, 0.12, 3)
        # refraction: the background behind the glass, mirrored and compressed around the axis
        src_x = np.clip(cx - u * r * rng.uniform(0.3, 0.7), 0, wid - 1).astype(np.int32)
        src_y = np.clip(ys + rng.uniform(-0.1, 0.1) * H, 0, hgt - 1).astype(np.int32)
        refr = img[src_y, src_x] * tint * rng.uniform(0.75, 1.0)
        out = patch.copy()
        out[body] = refr[body]
        # liquid
        fill = rng.choice(
            ['empty', 'clear', 'beer', 'beer']
            if kind == 'beer_glass'
            else ['empty', 'clear', 'clear', 'beer']
        )
        wall = rng.uniform(0.06, 0.14)
        level = rng.uniform(0.3, 0.92)
        inner = (
            in_side
            & (np.abs(u) <= 1 - wall)
            & (t <= level)
            & (t > 0.04 if kind != 'soju_glass' else t > 0.15)
        )
        if fill == 'beer':
            amber = np.array([20, rng.uniform(100, 160), rng.uniform(190, 240)])
            out[inner] = out[inner] * 0.2 + (amber * shade)[inner] * 0.8
            foam = inner & (t > level - rng.uniform(0.03, 0.15))
            out[foam] = np.array([225, 238, 245]) * rng.uniform(0.85, 1.0)
        elif fill == 'clear':
            out[inner] = out[inner] * 0.85 + np.array([235, 240, 230]) * 0.15
            lvl = inner & (np.abs(t - level) < 1.5 / H)
            out[lvl] = out[lvl] * 0.5 + 255 * 0.5
        # walls dark at the silhouette, bright streak, heavy base for shot glasses
        edge = in_side & (np.abs(u) > 1 - wall)
        out[edge] = out[edge] * 0.55 + 40
        streak = in_side & (np.abs(u + rng.uniform(0.3, 0.6)) < 0.08)
        out[streak] = out[streak] * 0.4 + 255 * 0.6
        if kind == 'soju_glass':
            heavy = in_side & (t < rng.uniform(0.12, 0.25))
            out[heavy] = out[heavy] * 0.7 + 60
        rim = in_top & ~(
            ((xs - cx) / max(top_r - 1.5, 1e-3)) ** 2
            + ((ys - top_y) / max(top_r * tilt - 1.5, 1e-3)) ** 2
            <= 1
        )
        out[rim] = out[rim] * 0.3 + 230 * 0.7
        if hm.any():
            out[hm] = out[hm] * 0.5 + 200 * 0.5
        patch[:] = out
    # contact shadow under the object
    mask = body | hm
    ys_idx, xs_idx = np.nonzero(mask)
    if len(xs_idx) == 0:
        return None
    return Box.from_xyxy(
        x0 + xs_idx.min(), y0 + ys_idx.min(), x0 + xs_idx.max() + 1, y0 + ys_idx.max() + 1
    )


def render_scene(
    seed: int,
    index: int,
    width: int = 640,
    height: int = 480,
    max_objects: int = 4,
    kinds: tuple[str, ...] | None = None,
) -> Scene:
    """Render scene ``index`` of the stream seeded by ``seed``; deterministic."""
    if width < 64 or height < 64:
        raise ValueError('synthetic scenes need at least 64x64 pixels')
    rng = np.random.default_rng([int(seed), int(index)])
    img, horizon = _background(rng, width, height)
    kinds = kinds or ALL_KINDS
    n = int(rng.integers(1, max_objects + 1))
    # place far objects first (higher base line, smaller scale), so nearer ones occlude them
    bases = np.sort(rng.uniform(horizon + 0.25 * (height - horizon), height * 0.97, n))
    objects: list[SceneObject] = []
    light = rng.uniform(-0.8, 0.8)
    tilt = rng.uniform(0.12, 0.35)
    ref = height / 480.0
    for base_y in bases:
        kind = str(rng.choice(kinds))
        variant = str(rng.choice(VARIANTS[kind]))
        near = (base_y - horizon) / max(1.0, height - horizon)
        scale = ref * rng.uniform(5.0, 11.0) * (0.6 + 0.6 * near)
        for _attempt in range(6):
            cx = rng.uniform(0.08, 0.92) * width
            trial = img.copy()
            box = _draw_object(trial, rng, kind, variant, cx, base_y, scale, tilt, light)
            if box is None or box.w < 12 or box.h < 12:
                scale *= 0.85
                continue
            if any(box.iou(o.box) > 0.15 for o in objects):
                continue
            img = trial
            objects.append(SceneObject(kind, variant, box))
            break
    # camera: exposure, blur, sensor noise
    img *= rng.uniform(0.7, 1.25)
    img = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < 0.4:
        k = int(rng.choice([3, 5]))
        img = cv2.GaussianBlur(img, (k, k), 0)
    sigma = rng.uniform(0, 6)
    if sigma > 0.5:
        img = np.clip(
            img.astype(np.int16) + rng.normal(0, sigma, img.shape).astype(np.int16), 0, 255
        ).astype(np.uint8)
    return Scene(image=img, objects=objects)
