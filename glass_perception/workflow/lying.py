"""
Glasses, bottles and cups lying on their side, for the detector's training scenes.

Real tables hold knocked-over glasses and bottles on their side (the ClearGrasp frames' plastic
bottles and cups); no earlier training scene did. ``lay_down`` turns some objects of a recipe on
their side where they stand: emptied (a lying glass holds no liquid), about a horizontal axis
through their foot, at the tilt a rigid body rests at on a plane (its vertices' centroid lowest
above the table: a tapered cup rests on its rim and its foot). Boxes and visibility come from the
renderer's shape-index pass as for every other object; the 3D truth of a lying object is marked
(``lying``) and left out of the 3D evaluation, whose localizer assumes an upright glass.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .pbr import MeshData, Part

#: what may lie: transparent glassware and bottles, and cups without a handle or a stem
LYING_VARIANTS = {
    'beer_glass': ('pint', 'nonic', 'pilsner', 'weizen'),
    'soju_glass': ('shot_straight', 'shot_tapered', 'shot_flared'),
    'bottle': ('bottle',),
    'cup': ('paper_cup', 'plastic_cup', 'tumbler'),
}
#: tilts tried (degrees past lying flat): wide enough for a shot glass's steep flare
_TILTS = np.radians(np.arange(-40.0, 40.25, 0.5))


def _rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    rot, _ = cv2.Rodrigues((axis * angle).reshape(3, 1).astype(np.float64))
    return rot


def resting_pose(vertices: np.ndarray, azimuth: float) -> np.ndarray:
    """
    Return the rotation that lays ``vertices`` (standing, axis along y through the origin) down.

    The object falls towards ``azimuth`` (radians about y) and takes the tilt at which its
    vertices' centroid is lowest above its lowest point.
    """
    fall = np.array([math.cos(azimuth), 0.0, math.sin(azimuth)])
    axis = np.cross(np.array([0.0, 1.0, 0.0]), fall)  # horizontal, across the fall
    v = vertices.astype(np.float64)
    best, best_rot = math.inf, None
    for tilt in _TILTS:
        rot = _rotation(axis, math.pi / 2.0 + float(tilt))
        y = v @ rot[1]
        rise = float(y.mean() - y.min())
        if rise < best - 1e-9:
            best, best_rot = rise, rot
    return best_rot


def lay_down(rng, recipe, chance: float) -> None:
    """
    Lay each eligible object (:data:`LYING_VARIANTS`, on the table) down with chance ``chance``.

    The object keeps its place where it does not reach another; otherwise it stays upright.
    ``Placed.x``/``z`` move to the middle of the lying object and ``footprint`` to its reach.
    """
    if not 0.0 <= chance <= 1.0:
        raise ValueError(f'lying {chance} is not a probability')
    for obj in recipe.objects:
        if obj.variant not in LYING_VARIANTS.get(obj.kind, ()) or obj.y > 0.0:
            continue
        if rng.random() >= chance:
            continue
        azimuth = float(rng.uniform(0.0, 2.0 * math.pi))
        vessel = obj.parts[0]
        foot = np.array([obj.x, 0.0, obj.z])
        local = vessel.mesh.vertices.astype(np.float64) - foot
        rot = resting_pose(local, azimuth)
        lying = local @ rot.T
        lying[:, 1] -= lying[:, 1].min()
        middle = lying.mean(axis=0)
        reach = float(np.hypot(lying[:, 0] - middle[0], lying[:, 2] - middle[2]).max())
        x, z = foot[0] + middle[0], foot[2] + middle[2]
        others = [o for o in recipe.objects if o is not obj]
        if any(math.hypot(x - o.x, z - o.z) <= reach + o.footprint + 0.5 for o in others):
            continue
        lying[:, 0] += foot[0]
        lying[:, 2] += foot[2]
        mesh = MeshData(lying.astype(np.float32), vessel.mesh.faces, vessel.mesh.uv)
        obj.parts = [Part(mesh, vessel.bsdf)]  # emptied: no liquid, foam or coffee
        obj.x, obj.z, obj.footprint = float(x), float(z), reach
        obj.lying = True
