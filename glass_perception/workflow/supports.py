"""
Raised supports under glasses: trays with rims, boards, coasters and plates (glass-synth rgbd).

A glass on a tray or a board stands 3-40 mm above the table the rest of the scene stands on:
the case where the dominant plane around a glass is not the one it stands on. Each support is an
opaque mesh (pure numpy, :func:`glass_perception.workflow.pbr.lathe`) with a flat top at
``top`` centimetres where its glasses stand:

========  ===================================================  ==========
kind      shape                                                top (mm)
========  ===================================================  ==========
coaster   a disc 0.5-2.5 cm wider than the glass's foot        3-8
plate     a round plate, a flat middle and a raised rim         6-15
board     a rectangular board (cutting board, book)             12-40
tray      a rectangular tray, its floor inside a 2-4 cm rim     4-20
========  ===================================================  ==========

:func:`add_supports` puts one under a chosen object of a recipe; every other object either stands
wholly on its flat top (raised with it) or wholly beside it (the rest are taken out of the scene).
"""

from __future__ import annotations

import math

import numpy as np

from .pbr import _rgb, lathe, MeshData, Part, Placed

SUPPORT_KINDS = ('coaster', 'plate', 'board', 'tray')


def _rect(mesh: MeshData, half_x: float, half_z: float) -> MeshData:
    """Make a 4-segment lathe (a square turned 45 degrees, 'radius' 1) a half_x by half_z box."""
    v = mesh.vertices.astype(np.float64)
    c = math.sqrt(0.5)
    x, z = (v[:, 0] - v[:, 2]) * c, (v[:, 0] + v[:, 2]) * c  # the corners onto the diagonals
    v = np.column_stack([x * half_x / c, v[:, 1], z * half_z / c])
    return MeshData(v.astype(np.float32), mesh.faces, mesh.uv)


def _material(rng, kind: str) -> dict:
    if kind == 'plate':  # glazed ceramic, mostly white
        white = rng.random() < 0.7
        colour = np.full(3, rng.uniform(0.75, 0.95)) if white else rng.uniform(0.2, 0.9, 3)
        return {'type': 'plastic', 'diffuse_reflectance': _rgb(colour), 'int_ior': 1.5}
    if kind == 'board' or (kind == 'coaster' and rng.random() < 0.5):  # wood, cork
        base = np.array([0.55, 0.38, 0.22]) * rng.uniform(0.6, 1.4)
        return {'type': 'diffuse', 'reflectance': _rgb(np.clip(base, 0.05, 0.95))}
    return {  # plastic or lacquered trays and coasters
        'type': 'roughplastic',
        'alpha': float(rng.uniform(0.05, 0.3)),
        'diffuse_reflectance': _rgb(rng.uniform(0.05, 0.9, 3)),
    }


def make_support(rng, kind: str, foot: float):
    """
    Return (part, top, (half_x, half_z) of its flat top, round) of a support ``kind``.

    For a glass whose foot has radius ``foot``; centimetres, centred on the origin, standing on
    y = 0.
    """
    if kind == 'coaster':
        top = rng.uniform(0.3, 0.8)
        r = foot + rng.uniform(0.5, 2.5)
        mesh = lathe([(0.0, 0.0), (r, 0.0), (r, top), (0.0, top)], 48)
        flat, rnd = (r, r), True
    elif kind == 'plate':
        top = rng.uniform(0.6, 1.5)
        r = max(foot + 3.0, rng.uniform(9.0, 14.0))
        inner = max(foot + 1.0, r * rng.uniform(0.55, 0.7))
        rim = top + rng.uniform(0.8, 1.8)
        mesh = lathe(
            [(0.0, 0.0), (r * 0.45, 0.0), (r * 0.5, top * 0.6), (r, rim), (r - 0.4, rim),
             (inner, top), (0.0, top)], 48,
        )  # fmt: skip
        flat, rnd = (inner, inner), True
    elif kind == 'board':
        top = rng.uniform(1.2, 4.0)
        half = (rng.uniform(10.0, 22.0), rng.uniform(8.0, 16.0))
        mesh = _rect(lathe([(0.0, 0.0), (1.0, 0.0), (1.0, top), (0.0, top)], 4), *half)
        flat, rnd = half, False
    elif kind == 'tray':
        top = rng.uniform(0.4, 2.0)
        rim = top + rng.uniform(1.5, 2.5)
        half = (rng.uniform(14.0, 24.0), rng.uniform(10.0, 17.0))
        wall = 1.5 / min(half)  # a 1.5 cm sloped wall, in units of the half size
        mesh = _rect(
            lathe(
                [(0.0, 0.0), (1.0, 0.0), (1.0, rim), (1.0 - 0.4 * wall, rim),
                 (1.0 - wall, top), (0.0, top)], 4,
            ),
            *half,
        )  # fmt: skip
        flat = (half[0] * (1.0 - wall) - 0.3, half[1] * (1.0 - wall) - 0.3)
        rnd = False
    else:
        raise ValueError(f"support '{kind}' is not one of {', '.join(SUPPORT_KINDS)}")
    return Part(mesh, _material(rng, kind)), float(top), flat, rnd


def _inside(obj: Placed, cx: float, cz: float, flat, rnd: bool, yaw: float) -> str:
    """Return 'on' when the object's footprint lies on the flat top, 'off' beside it, else ''."""
    dx, dz = obj.x - cx, obj.z - cz
    c, s = math.cos(yaw), math.sin(yaw)  # into the support's frame: the yaw's transpose
    lx, lz = c * dx - s * dz, s * dx + c * dz
    r = obj.footprint
    if rnd:
        dist = math.hypot(lx, lz)
        return 'on' if dist + r <= flat[0] else 'off' if dist - r >= flat[0] + 1.0 else ''
    if abs(lx) + r <= flat[0] and abs(lz) + r <= flat[1]:
        return 'on'
    # outside the whole support (its outer size is the flat top plus at most 2 cm of rim)
    gap_x, gap_z = abs(lx) - flat[0] - 2.0, abs(lz) - flat[1] - 2.0
    return 'off' if max(gap_x, gap_z) >= r + 0.5 else ''


def add_supports(rng, recipe, chance: float) -> None:
    """
    With probability ``chance``, stand one of the recipe's objects on a random support.

    The support is centred near that object; objects wholly on its flat top are raised onto it
    (their ``y``), objects that would straddle its edge are taken out. ``recipe.meta['support']``
    records the kind and height (mm).
    """
    if not recipe.objects or rng.random() >= chance:
        return
    kind = str(rng.choice(SUPPORT_KINDS))
    host = recipe.objects[int(rng.integers(len(recipe.objects)))]
    part, top, flat, rnd = make_support(rng, kind, host.footprint)
    yaw = float(rng.uniform(0.0, 2.0 * math.pi))
    # off-centre on wide supports, so glasses stand near rims and edges too
    slack = [max(0.0, f - host.footprint - 0.5) for f in flat]
    if rnd:
        slack = [slack[0] / math.sqrt(2.0)] * 2
    cx = host.x + float(rng.uniform(-1.0, 1.0)) * slack[0]
    cz = host.z + float(rng.uniform(-1.0, 1.0)) * slack[1]
    kept = []
    for obj in recipe.objects:
        where = 'on' if obj is host else _inside(obj, cx, cz, flat, rnd, yaw)
        if where == 'on':
            obj.y = top
            obj.parts = [
                Part(MeshData(p.mesh.vertices + np.float32([0.0, top, 0.0]), p.mesh.faces,
                              p.mesh.uv), p.bsdf)
                for p in obj.parts
            ]  # fmt: skip
            kept.append(obj)
        elif where == 'off':
            kept.append(obj)
    recipe.objects = kept
    c, s = math.cos(yaw), math.sin(yaw)
    v = part.mesh.vertices.astype(np.float64)
    rot = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    v = v @ rot.T + np.array([cx, 0.0, cz])
    mesh = MeshData(v.astype(np.float32), part.mesh.faces, part.mesh.uv)
    recipe.supports = [Part(mesh, part.bsdf)]
    recipe.meta = {**recipe.meta, 'support': kind, 'support_mm': round(10.0 * top, 1)}
