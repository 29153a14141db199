"""
Opaque clutter beside the glasses: the things a real table holds that are not glassware.

On real RealSense frames the detector's false cup boxes were cup-sized opaque things: a white
cardboard cube, a blue plastic box, an apple, an earphone case (model card, "Real images"). No
training scene had any of them: every object in a render was glassware, a bottle or a bowl. These
objects are drawn beside the glasses, rendered and seen in depth like the table, and never
labelled, so a detector trained on them learns that they are not cups:

=======  =================================================================  ===========
kind     shape                                                              size (cm)
=======  =================================================================  ===========
box      a box: a carton, a cube, a tissue box                              4-14
case     a flat box with rounded proportions: a phone, an earphone case     5-10 x 2-4
fruit    a sphere or a slightly squashed one: an apple, an orange, a ball   6-9
block    a tall box: a milk carton, a juice pack, a book on its end         5-8 x 10-20
pebble   a flat rounded lump, often dark: an earphone case, a mouse, soap   6-12 x 1.5-4
=======  =================================================================  ===========

:func:`add_clutter` puts one to three of them on the table within reach of the glasses, never
overlapping a glass, a support or each other. It draws from a random stream of its own, so the
rest of the scene is the one the same seed gives without clutter.
"""

from __future__ import annotations

import math

import numpy as np

from .pbr import _rgb, lathe, MeshData, Part
from .supports import _rect

CLUTTER_KINDS = ('box', 'case', 'fruit', 'block', 'pebble')
#: the kinds of the first clutter renders (seeds 117-119), before pebbles: their draws stay
FIRST_KINDS = CLUTTER_KINDS[:4]


def _box(half_x: float, half_z: float, height: float) -> MeshData:
    """Return a closed box on y = 0, centred on the axis."""
    return _rect(lathe([(0.0, 0.0), (1.0, 0.0), (1.0, height), (0.0, height)], 4), half_x, half_z)


def _sphere(radius: float, squash: float) -> MeshData:
    """Return a sphere (squashed to ``squash`` of its height) resting on y = 0."""
    t = np.linspace(0.0, math.pi, 17)
    h = radius * squash
    return lathe([(radius * math.sin(a), h * (1.0 - math.cos(a))) for a in t], 32)


def _material(rng, kind: str) -> dict:
    """White or coloured card and plastic, fruit colours: what was taken for a cup."""
    if kind == 'pebble' and rng.random() < 0.5:  # black or dark grey plastic
        colour = np.full(3, rng.uniform(0.02, 0.12))
        return {
            'type': 'roughplastic',
            'alpha': float(rng.uniform(0.1, 0.4)),
            'diffuse_reflectance': _rgb(colour),
        }
    if kind == 'fruit':
        colour = [
            [0.55, 0.05, 0.04], [0.35, 0.55, 0.08], [0.85, 0.45, 0.05], [0.8, 0.7, 0.1],
        ][int(rng.integers(4))]  # fmt: skip
        colour = np.clip(np.array(colour) * rng.uniform(0.7, 1.2), 0.02, 0.95)
        return {'type': 'plastic', 'diffuse_reflectance': _rgb(colour), 'int_ior': 1.4}
    if rng.random() < 0.35:  # white card or plastic, the cube of the real frames
        colour = np.full(3, rng.uniform(0.7, 0.95))
    else:
        colour = rng.uniform(0.05, 0.9, 3)
    if rng.random() < 0.5:
        return {'type': 'diffuse', 'reflectance': _rgb(colour)}
    return {
        'type': 'roughplastic',
        'alpha': float(rng.uniform(0.05, 0.4)),
        'diffuse_reflectance': _rgb(colour),
    }


def make_clutter(rng, kind: str) -> tuple[MeshData, float]:
    """Return (mesh centred on the origin on y = 0, footprint radius) of a clutter ``kind``."""
    if kind == 'box':
        hx, hz = rng.uniform(2.0, 7.0, 2)
        mesh = _box(hx, hz, rng.uniform(4.0, 14.0))
        return mesh, float(math.hypot(hx, hz))
    if kind == 'case':
        hx, hz = rng.uniform(2.5, 5.0), rng.uniform(1.5, 3.5)
        mesh = _box(hx, hz, rng.uniform(2.0, 4.0))
        return mesh, float(math.hypot(hx, hz))
    if kind == 'fruit':
        r = rng.uniform(3.0, 4.5)
        return _sphere(r, rng.uniform(0.8, 1.0)), float(r)
    if kind == 'block':
        hx, hz = rng.uniform(2.5, 4.0), rng.uniform(2.5, 4.0)
        mesh = _box(hx, hz, rng.uniform(10.0, 20.0))
        return mesh, float(math.hypot(hx, hz))
    if kind == 'pebble':  # a squashed, stretched sphere: rounded outline, flat top
        mesh = _sphere(1.0, rng.uniform(0.3, 0.7))
        sx, sz = rng.uniform(3.0, 6.0), rng.uniform(2.5, 4.5)
        v = mesh.vertices.astype(np.float64) * np.array([sx, rng.uniform(2.5, 4.0), sz])
        return MeshData(v.astype(np.float32), mesh.faces, mesh.uv), float(max(sx, sz))
    raise ValueError(f"clutter kind '{kind}' is not one of {', '.join(CLUTTER_KINDS)}")


def _support_circles(recipe) -> list[tuple[float, float, float]]:
    out = []
    for part in recipe.supports:
        v = part.mesh.vertices
        lo, hi = v[:, [0, 2]].min(0), v[:, [0, 2]].max(0)
        c = (lo + hi) / 2.0
        out.append((float(c[0]), float(c[1]), float(np.linalg.norm(hi - lo)) / 2.0))
    return out


def add_clutter(rng, recipe, chance: float, kinds=CLUTTER_KINDS) -> None:
    """
    With probability ``chance``, put one to three clutter objects beside the recipe's objects.

    Each stands 1-15 cm from a glass's footprint or a support's edge, turned at random,
    overlapping no object, support or other clutter (a place is tried 20 times, then that one
    is left out).
    ``kinds`` are drawn from (``FIRST_KINDS`` gives the draws of the first clutter renders).
    ``recipe.clutter`` holds their parts; ``recipe.meta['clutter']`` lists their kinds.
    """
    if not recipe.objects or rng.random() >= chance:
        return
    taken = [(o.x, o.z, o.footprint) for o in recipe.objects] + _support_circles(recipe)
    anchors = list(taken)  # beside a glass, or beside the tray or board the glasses are on
    parts, drawn = [], []
    for _ in range(int(rng.integers(1, 4))):
        kind = str(rng.choice(kinds))
        mesh, radius = make_clutter(rng, kind)
        bsdf = _material(rng, kind)
        for _attempt in range(20):
            nx, nz, nr = anchors[int(rng.integers(len(anchors)))]
            angle = rng.uniform(0.0, 2.0 * math.pi)
            gap = nr + radius + rng.uniform(1.0, 15.0)
            x, z = nx + gap * math.cos(angle), nz + gap * math.sin(angle)
            if all(math.hypot(x - tx, z - tz) > r + radius + 0.5 for tx, tz, r in taken):
                parts.append(Part(mesh.transformed(rng.uniform(0.0, 2.0 * math.pi), x, z), bsdf))
                drawn.append(kind)
                taken.append((x, z, radius))
                break
    recipe.clutter = parts
    if drawn:
        recipe.meta = {**recipe.meta, 'clutter': drawn}
