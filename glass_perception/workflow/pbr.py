"""
Physically based table-top scenes of glassware, path traced with Mitsuba 3 on the CPU.

Glass is hard to see because it refracts and reflects what lies behind it; a model that only saw
flat drawings of glasses does not transfer to a camera. This renderer builds every object as a
closed triangle mesh turned from a profile (a lathe), gives glass a dielectric BSDF (index 1.5,
tinted), fills it with liquids that are dielectrics of their own (index 1.33, amber beer with a
foam head, clear water or soju), makes cups of glossy ceramic, paper with a printed band or opaque
plastic (sometimes with coffee), and adds bottles and bowls as distractors. It randomises what the
real world varies: proportions, glass thickness and tint, fills, table textures and gloss, a wall
behind the table, an environment with bright windows, area lights, camera height, distance, angle
and field of view, partial occlusion, exposure, blur and sensor noise. The shapes' proportions come
from :func:`glass_perception.core.synthetic.object_profile`, shared with the fast renderer.

Ground truth comes from the renderer itself: an ``aov`` pass records which shape each pixel sees
first, so boxes are the visible extent of each object, and each object is also rendered alone at
low resolution to measure how much of it is hidden (``SceneObject.visibility``).

Mitsuba's ``scalar_rgb`` variant is used: it runs on any CPU (its LLVM variants crashed on the
project's build machine). Every scene is a pure function of (seed, index, width, height, quality).
Mitsuba is imported only when a scene is rendered, so the pipeline itself never needs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
import math

import cv2
import numpy as np

from . import variety as wide
from ..core.geometry import Box
from ..core.synthetic import ALL_KINDS, object_profile, Scene, SceneObject, VARIANTS


@dataclass(frozen=True)
class Quality:
    spp: int  # samples per pixel of the path tracer
    max_depth: int  # longest light path: glass with a liquid inside needs about 10 bounces
    denoise: bool  # a light edge-preserving filter after rendering


#: preview renders tiny test images in well under a second; default is what the models train on.
QUALITIES = {
    'preview': Quality(spp=4, max_depth=8, denoise=True),
    'fast': Quality(spp=16, max_depth=10, denoise=True),
    'default': Quality(spp=48, max_depth=12, denoise=True),
    'high': Quality(spp=256, max_depth=16, denoise=False),
}


def load_mitsuba():
    """Mitsuba in its scalar_rgb variant (ImportError where it is not installed)."""
    import mitsuba as mi

    if mi.variant() != 'scalar_rgb':
        mi.set_variant('scalar_rgb')
    return mi


# --------------------------------------------------------------------------------------------
# Meshes (pure numpy)


@dataclass
class MeshData:
    vertices: np.ndarray  # (N, 3) float32, centimetres, y up
    faces: np.ndarray  # (M, 3) uint32, counter-clockwise seen from outside
    uv: np.ndarray  # (N, 2) float32

    def transformed(self, yaw: float, x: float, z: float) -> 'MeshData':
        c, s = math.cos(yaw), math.sin(yaw)
        rot = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]], np.float64)
        v = self.vertices.astype(np.float64) @ rot.T + np.array([x, 0.0, z])
        return MeshData(v.astype(np.float32), self.faces, self.uv)


def lathe(profile, segments: int = 48) -> MeshData:
    """
    Turn a profile of (radius, height) points around the y axis.

    A profile that starts and ends on the axis (radius 0) gives a closed, watertight solid whose
    faces point outwards when the profile runs bottom-centre, outwards, up the outside, and back
    down the inside (or across the top) to the axis.
    """
    prof = np.asarray(profile, np.float64)
    if prof.ndim != 2 or prof.shape[1] != 2 or len(prof) < 2:
        raise ValueError('a profile is a list of at least two (radius, height) points')
    theta = np.linspace(0.0, 2.0 * math.pi, segments, endpoint=False)
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(prof[:, 0]), np.diff(prof[:, 1])))])
    v_coord = arc / max(arc[-1], 1e-9)
    verts, uvs, rings = [], [], []
    for (r, y), v in zip(prof, v_coord):
        if r < 1e-6:  # a pole: one vertex on the axis
            rings.append([len(verts)] * (segments + 1))
            verts.append((0.0, y, 0.0))
            uvs.append((0.5, v))
            continue
        start = len(verts)
        for t in theta:
            verts.append((r * math.cos(t), y, r * math.sin(t)))
        verts.append(verts[start])  # the seam: same position, u = 1
        uvs.extend((t / (2.0 * math.pi), v) for t in theta)
        uvs.append((1.0, v))
        rings.append(list(range(start, start + segments + 1)))
    faces = []
    for a, c in zip(rings[:-1], rings[1:]):
        for j in range(segments):
            for tri in ((a[j], c[j], a[j + 1]), (a[j + 1], c[j], c[j + 1])):
                if len(set(tri)) == 3:
                    faces.append(tri)
    return MeshData(
        np.asarray(verts, np.float32), np.asarray(faces, np.uint32), np.asarray(uvs, np.float32)
    )


def tube(path: np.ndarray, radius: float, sides: int = 12) -> MeshData:
    """Mesh a tube of circular section along a path in the x-y plane (a mug handle); ends open."""
    path = np.asarray(path, np.float64)
    tangents = np.gradient(path, axis=0)
    tangents /= np.linalg.norm(tangents, axis=1, keepdims=True)
    z = np.array([0.0, 0.0, 1.0])
    verts, uvs = [], []
    for i, (p, t) in enumerate(zip(path, tangents)):
        b = np.cross(t, z)
        for k in range(sides):
            phi = 2.0 * math.pi * k / sides
            verts.append(p + radius * (math.cos(phi) * z + math.sin(phi) * b))
            uvs.append((k / sides, i / (len(path) - 1)))
    faces = []
    for i in range(len(path) - 1):
        for k in range(sides):
            a, b2 = i * sides + k, i * sides + (k + 1) % sides
            c, d = a + sides, b2 + sides
            faces += [(a, b2, c), (b2, d, c)]
    return MeshData(
        np.asarray(verts, np.float32), np.asarray(faces, np.uint32), np.asarray(uvs, np.float32)
    )


def signed_volume(mesh: MeshData) -> float:
    """Volume enclosed by a closed mesh; positive when its faces point outwards."""
    v = mesh.vertices.astype(np.float64)[mesh.faces]
    return float(np.einsum('ij,ij->i', v[:, 0], np.cross(v[:, 1], v[:, 2])).sum() / 6.0)


def vessel_profile(height: float, radius, wall: float, base: float, samples: int = 20):
    """Outline of an open vessel (glass, mug, bowl): outside up, across the rim, inside down."""
    t = np.linspace(0.0, 1.0, samples)
    outer = np.maximum(radius(t), 0.3)
    t_in = np.linspace(1.0, base / height, samples)
    inner = np.maximum(radius(t_in) - wall, 0.15)
    return (
        [(0.0, 0.0)]
        + list(zip(outer, t * height))
        + list(zip(inner, t_in * height))
        + [(0.0, base)]
    )


def fill_profile(
    height: float,
    radius,
    wall: float,
    base: float,
    level: float,
    gap: float = 0.02,
    samples: int = 12,
):
    """Profile a liquid from a vessel's inner bottom up to ``level`` (a fraction of the height)."""
    t = np.linspace(base / height, level, samples)
    r = np.maximum(radius(t) - wall - gap, 0.1)
    y = t * height
    y[0] += gap
    return [(0.0, y[0])] + list(zip(r, y)) + [(0.0, y[-1])]


def handle_path(radius_at, height: float, rng) -> np.ndarray:
    """Draw a C-shaped handle on the +x side, its ends sunk into the wall."""
    top, bottom = height * rng.uniform(0.72, 0.85), height * rng.uniform(0.15, 0.3)
    reach = rng.uniform(1.6, 2.6)
    s = np.linspace(0.0, math.pi, 16)
    y = (top + bottom) / 2 + (top - bottom) / 2 * np.cos(s)
    x = np.array([radius_at(yy / height) for yy in y]) - 0.25 + reach * np.sin(s)
    return np.stack([x, y, np.zeros_like(x)], axis=1)


# --------------------------------------------------------------------------------------------
# Textures (pure numpy): float32 RGB in [0, 1]


def _table_texture(rng, size: int = 256) -> np.ndarray:
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / size
    base = rng.uniform(0.15, 0.85, 3).astype(np.float32)
    style = int(rng.integers(0, 5))
    if style == 0:  # wood grain
        f = rng.uniform(6, 18)
        tex = 1.0 + 0.18 * np.sin(
            2 * np.pi * (xs * f + 0.8 * np.sin(2 * np.pi * ys * rng.uniform(0.5, 2)))
        )
        base = np.array(
            [rng.uniform(0.35, 0.7), rng.uniform(0.2, 0.45), rng.uniform(0.08, 0.25)], np.float32
        )
    elif style == 1:  # tiles with grout
        n = int(rng.integers(3, 9))
        g = ((xs * n) % 1 < 0.04) | ((ys * n) % 1 < 0.04)
        tex = np.where(g, 0.55, 1.0) + 0.08 * ((np.floor(xs * n) + np.floor(ys * n)) % 2)
    elif style == 2:  # woven cloth
        f = rng.uniform(30, 60)
        tex = 1.0 + 0.12 * np.sin(2 * np.pi * xs * f) * np.sin(2 * np.pi * ys * f)
    elif style == 3:  # marble-like veins
        tex = (
            1.0
            - 0.35
            * np.abs(
                np.sin(
                    2 * np.pi * (xs * 2 + 1.5 * np.sin(2 * np.pi * ys * 1.3)) + rng.uniform(0, 6)
                )
            )
            ** 8
        )
        base = np.full(3, rng.uniform(0.6, 0.9), np.float32)
    else:  # plain, slightly mottled
        tex = 1.0 + 0.04 * np.sin(2 * np.pi * xs * 3.1) * np.cos(2 * np.pi * ys * 2.3)
    noise = rng.normal(1.0, 0.03, (size, size)).astype(np.float32)
    return np.clip(base[None, None, :] * (tex * noise)[..., None], 0.02, 0.95).astype(np.float32)


def _wall_texture(rng, size: int = 256) -> np.ndarray:
    img = np.empty((size, size, 3), np.float32)
    img[:] = rng.uniform(0.2, 0.9, 3)
    img *= (1.0 + 0.1 * np.linspace(-1, 1, size, dtype=np.float32))[None, :, None]
    for _ in range(int(rng.integers(1, 7))):  # pictures, shelves, windows, a stripe of tiles
        x0, y0 = rng.integers(0, size - 8, 2)
        w, h = rng.integers(8, size // 2, 2)
        img[y0: y0 + h, x0: x0 + w] = rng.uniform(0.0, 1.0, 3)
    return np.clip(img, 0.0, 1.0)


def _environment(rng, width: int = 128, height: int = 64) -> np.ndarray:
    """Paint an equirectangular room: dark floor, light ceiling, a few bright windows or lamps."""
    ys = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    top = rng.uniform(0.4, 1.0, 3).astype(np.float32)
    bottom = rng.uniform(0.05, 0.35, 3).astype(np.float32)
    env = np.broadcast_to(top * (1 - ys) + bottom * ys, (height, width, 3)).copy()
    for _ in range(int(rng.integers(1, 4))):
        x0, y0 = int(rng.integers(0, width - 8)), int(rng.integers(4, height // 2))
        w, h = int(rng.integers(6, width // 4)), int(rng.integers(4, height // 4))
        env[y0: y0 + h, x0: x0 + w] = rng.uniform(2.0, 8.0) * rng.uniform(0.85, 1.0, 3)
    return env


def _band_texture(rng, size: int = 128) -> np.ndarray:
    """Paint a paper cup's print: a base colour with one or two bands."""
    img = np.empty((size, size, 3), np.float32)
    img[:] = rng.uniform(0.6, 0.97, 3)
    for _ in range(int(rng.integers(1, 3))):
        v0 = int(rng.integers(0, size - 10))
        img[v0: v0 + int(rng.integers(6, size // 3))] = rng.uniform(0.05, 0.9, 3)
    return img


# --------------------------------------------------------------------------------------------
# Objects: meshes with materials, as plain data


@dataclass
class Part:
    mesh: MeshData
    bsdf: dict


@dataclass
class Placed:
    kind: str
    variant: str
    parts: list[Part]
    footprint: float  # radius on the table, handle included
    x: float = 0.0
    z: float = 0.0
    y: float = 0.0  # the height it stands at: 0 on the table, more on a support
    lying: bool = False  # on its side (workflow.lying)


def _rgb(v) -> dict:
    return {'type': 'rgb', 'value': [float(c) for c in v]}


def _glass_bsdf(rng, tint_strength=0.06) -> dict:
    tint = 1.0 - rng.uniform(0.0, tint_strength, 3)
    return {
        'type': 'dielectric',
        'int_ior': float(rng.uniform(1.47, 1.53)),
        'specular_transmittance': _rgb(tint),
    }


def _liquid_bsdf(colour) -> dict:
    return {
        'type': 'dielectric',
        'int_ior': 1.333,
        'ext_ior': 1.5,
        'specular_transmittance': _rgb(colour),
    }


def _ceramic_bsdf(rng) -> dict:
    colour = (
        rng.uniform(0.05, 0.95, 3) if rng.random() < 0.6 else np.full(3, rng.uniform(0.7, 0.95))
    )
    return {'type': 'plastic', 'diffuse_reflectance': _rgb(colour), 'int_ior': 1.5}


def make_object(rng, kind: str, variant: str, variety: str = 'classic') -> Placed:
    """One object at the origin, standing on y = 0 (``variety`` 'wide': see workflow.variety)."""
    drawn = wide.profile(rng, variant) if variety == 'wide' else None
    if drawn is None:
        height, radius, has_handle, material = object_profile(rng, variant)
        inner_base = None
    else:
        height, radius, has_handle, material, inner_base = drawn
    parts: list[Part] = []
    if material in ('glass', 'bottle'):
        wall = rng.uniform(0.12, 0.35) if variety == 'classic' else rng.uniform(0.08, 0.45)
        base = rng.uniform(0.6, 1.8) if kind == 'soju_glass' else rng.uniform(0.3, 1.2)
        if inner_base is not None:
            base = inner_base
        bsdf = _glass_bsdf(rng)
        if variety == 'wide' and material == 'glass':
            bsdf = wide.glass_bsdf(rng, bsdf)
        if material == 'bottle':
            bsdf['specular_transmittance'] = _rgb(
                [(0.35, 0.7, 0.35), (0.55, 0.35, 0.15), (0.9, 0.93, 0.9)][int(rng.integers(0, 3))]
            )
        parts.append(Part(lathe(vessel_profile(height, radius, wall, base)), bsdf))
        fill = rng.choice(
            ['empty', 'clear', 'beer'],
            p=[0.3, 0.3, 0.4]
            if kind == 'beer_glass'
            else ([0.4, 0.5, 0.1] if kind == 'soju_glass' else [0.5, 0.3, 0.2]),
        )
        if fill != 'empty':
            level = rng.uniform(0.35, 0.92) if variety == 'classic' else rng.uniform(0.12, 0.95)
            if variety == 'wide':  # a finger of liquid still stands above the base
                level = max(level, base / height + 0.06)
            colour = (
                (rng.uniform(0.85, 0.98), rng.uniform(0.45, 0.7), rng.uniform(0.05, 0.25))
                if fill == 'beer'
                else (0.97, 0.98, 0.97)
            )
            parts.append(
                Part(lathe(fill_profile(height, radius, wall, base, level)), _liquid_bsdf(colour))
            )
            if fill == 'beer' and rng.random() < 0.7:  # a foam head on top
                head = min(level + rng.uniform(0.04, 0.12), 0.98)
                parts.append(
                    Part(
                        lathe(fill_profile(height, radius, wall, height * level, head, gap=0.03)),
                        {
                            'type': 'diffuse',
                            'reflectance': _rgb(rng.uniform(0.85, 0.97, 3) * [1, 0.97, 0.9]),
                        },
                    )
                )
    else:
        wall = rng.uniform(0.25, 0.5) if material == 'ceramic' else rng.uniform(0.05, 0.12)
        base = rng.uniform(0.3, 0.8)
        if variant == 'paper_cup':
            bsdf = {
                'type': 'diffuse',
                'reflectance': {
                    'type': 'bitmap',
                    'bitmap': _band_texture(rng),
                    'filter_type': 'bilinear',
                },
            }
        elif variant == 'plastic_cup':
            bsdf = wide.plastic_cup_bsdf(rng)
        elif variant == 'tumbler' and rng.random() < 0.5:
            bsdf = {
                'type': 'roughplastic',
                'diffuse_reflectance': _rgb(rng.uniform(0.05, 0.9, 3)),
                'alpha': float(rng.uniform(0.1, 0.4)),
            }
        else:
            bsdf = _ceramic_bsdf(rng)
        parts.append(Part(lathe(vessel_profile(height, radius, wall, base)), bsdf))
        if kind == 'cup' and rng.random() < 0.4:  # coffee or tea
            level = rng.uniform(0.55, 0.9)
            parts.append(
                Part(
                    lathe(fill_profile(height, radius, wall, base, level)),
                    {
                        'type': 'plastic',
                        'diffuse_reflectance': _rgb(rng.uniform(0.02, 0.25, 3) * [1, 0.7, 0.45]),
                    },
                )
            )
    footprint = float(np.max(radius(np.linspace(0, 1, 32))))
    if has_handle:
        path = handle_path(lambda t: float(radius(np.array([t]))[0]), height, rng)
        parts.append(Part(tube(path, rng.uniform(0.35, 0.6)), parts[0].bsdf))
        footprint = float(path[:, 0].max()) + 0.6
    return Placed(kind, variant, parts, footprint)


# --------------------------------------------------------------------------------------------
# A scene as plain data, then as a Mitsuba scene


@dataclass
class Recipe:
    objects: list[Placed]
    camera_origin: tuple[float, float, float]
    camera_target: tuple[float, float, float]
    fov: float
    roll: float
    table: np.ndarray
    table_scale: float
    table_alpha: float
    wall: np.ndarray | None
    wall_distance: float
    environment: np.ndarray
    env_scale: float
    light_position: tuple[float, float, float]
    light_size: float
    light_radiance: tuple[float, float, float]
    exposure: float
    blur: int
    noise: float
    # the wide generator's additions (workflow.variety); the classic recipe leaves them empty
    extra_lights: list = field(default_factory=list)
    effects: dict | None = None
    meta: dict = field(default_factory=dict)
    #: the image's up when the camera looks (almost) straight down, where the world's up
    #: cannot orient it (see camera_up)
    up_hint: tuple[float, float, float] = (0.0, 0.0, -1.0)
    #: opaque parts standing on the table under some objects (trays, boards, coasters, plates:
    #: workflow.supports), rendered with the table
    supports: list = field(default_factory=list)
    #: opaque unlabelled things beside the glasses (Parts; workflow.clutter), rendered with the
    #: table
    clutter: list = field(default_factory=list)


def make_recipe(
    seed: int,
    index: int,
    max_objects: int = 4,
    kinds=None,
    variety: str = 'classic',
    family_set: str = 'all',
) -> Recipe:
    """
    Draw scene ``index`` of stream ``seed`` as plain data.

    ``variety`` 'classic' is the generator every earlier model was trained on, unchanged; 'wide'
    adds workflow.variety's shape families, photographed surfaces, lights, camera effects and
    distances, with ``family_set`` 'train' or 'unseen' keeping the held-out families and
    photographs apart (see workflow.variety).
    """
    if variety not in VARIETIES:
        raise ValueError(f"variety '{variety}' is not one of {', '.join(VARIETIES)}")
    if variety == 'classic' and family_set != 'all':
        raise ValueError('family sets (train, unseen) are for the wide generator')
    wide.families('cup', family_set)  # ValueError for an unknown set
    rng = np.random.default_rng(
        [int(seed), int(index), 31337] + ([] if variety == 'classic' else [16])
    )
    kinds = tuple(kinds) if kinds else ALL_KINDS
    distance = rng.uniform(35.0, 85.0) if variety == 'classic' else rng.uniform(30.0, 150.0)
    elevation = math.radians(rng.uniform(4.0, 35.0))
    fov = float(rng.uniform(40.0, 62.0))
    # the floor area the camera sees around the target, so objects stay (mostly) in view
    half_width = distance * math.tan(math.radians(fov) / 2.0)
    objects: list[Placed] = []
    n = int(rng.integers(1, max_objects + 1))
    for _ in range(n):
        kind = str(rng.choice(kinds))
        pool = VARIANTS[kind] if variety == 'classic' else wide.families(kind, family_set)
        obj = make_object(rng, kind, str(rng.choice(pool)), variety)
        for _attempt in range(20):
            x = rng.uniform(-0.65, 0.65) * half_width
            z = rng.uniform(-0.45, 0.35) * half_width
            if all(
                math.hypot(x - o.x, z - o.z) > obj.footprint + o.footprint + 0.5 for o in objects
            ):
                obj.x, obj.z = x, z
                yaw = rng.uniform(0, 2 * math.pi)
                obj.parts = [Part(p.mesh.transformed(yaw, x, z), p.bsdf) for p in obj.parts]
                objects.append(obj)
                break
    target_y = rng.uniform(4.0, 9.0)
    azimuth = math.radians(rng.uniform(-20.0, 20.0))
    origin = (
        distance * math.cos(elevation) * math.sin(azimuth),
        target_y + distance * math.sin(elevation),
        distance * math.cos(elevation) * math.cos(azimuth),
    )
    target = (rng.uniform(-2.0, 2.0), target_y, rng.uniform(-3.0, 1.0))
    light_angle = rng.uniform(-math.pi, math.pi)
    temperature = rng.uniform(0.0, 1.0)  # warm to cool white
    colour = np.array([1.0, 0.85 + 0.15 * temperature, 0.65 + 0.35 * temperature])
    recipe = Recipe(
        objects=objects,
        camera_origin=origin,
        camera_target=target,
        fov=fov,
        roll=float(rng.uniform(-3, 3)),
        table=_table_texture(rng),
        table_scale=float(rng.uniform(20.0, 120.0)),
        table_alpha=float(rng.uniform(0.03, 0.35)),
        wall=_wall_texture(rng) if rng.random() < 0.8 else None,
        wall_distance=float(rng.uniform(25.0, 120.0)),
        environment=_environment(rng),
        env_scale=float(rng.uniform(0.3, 1.2)),
        light_position=(
            60.0 * math.sin(light_angle),
            rng.uniform(50.0, 120.0),
            60.0 * math.cos(light_angle),
        ),
        light_size=float(rng.uniform(8.0, 40.0)),
        light_radiance=tuple(float(c) for c in colour * rng.uniform(3.0, 15.0)),
        exposure=float(rng.uniform(0.7, 1.4)),
        blur=int(rng.choice([0, 0, 0, 3, 5])),
        noise=float(rng.uniform(0.0, 5.0)),
    )
    if variety == 'wide':
        _widen(rng, recipe, family_set)
    return recipe


#: what make_recipe can draw: the generator as it was, or with workflow.variety's additions
VARIETIES = ('classic', 'wide')


def _widen(rng, r: Recipe, family_set: str) -> None:
    """Give a wide recipe photographed surfaces, more lights and camera effects."""
    table, wall = 'procedural', 'procedural' if r.wall is not None else 'none'
    surfaces = wide.photos(wide.SURFACE_PHOTOS, family_set)
    held_table = family_set == 'unseen' and rng.random() < 0.5
    if held_table or rng.random() < 0.35:
        table = 'gravel' if held_table else str(rng.choice(surfaces))
        r.table = wide.photo_texture(rng, table)
        r.table_scale = float(rng.uniform(8.0, 40.0))
    if r.wall is not None:
        if rng.random() < 0.3:
            wall = str(rng.choice(surfaces))
            r.wall = wide.photo_texture(rng, wall)
        if rng.random() < 0.4:
            r.wall = wide.add_pictures(rng, r.wall, family_set)
            wall += '+pictures'
    r.extra_lights = wide.extra_lights(rng)
    r.effects = wide.camera_effects(rng)
    r.meta = {'table': table, 'wall': wall, 'lights': 1 + len(r.extra_lights)}


def _with_bitmaps(mi, d: dict) -> dict:
    """Copy a plugin dict, its numpy textures made Mitsuba bitmaps (recipes stay plain data)."""
    return {
        k: mi.Bitmap(v)
        if isinstance(v, np.ndarray)
        else _with_bitmaps(mi, v)
        if isinstance(v, dict)
        else v
        for k, v in d.items()
    }


def _mesh_shape(mi, name: str, mesh: MeshData, bsdf: dict):
    props = mi.Properties()
    props['bsdf'] = mi.load_dict(_with_bitmaps(mi, bsdf))
    shape = mi.Mesh(name, len(mesh.vertices), len(mesh.faces), props, has_vertex_texcoords=True)
    params = mi.traverse(shape)
    params['vertex_positions'] = mesh.vertices.ravel()
    params['faces'] = mesh.faces.ravel()
    params['vertex_texcoords'] = mesh.uv.ravel()
    params.update()
    return shape


def _scene_dict(
    mi, r: Recipe, width: int, height: int, integrator: dict, objects=None, background: bool = True
) -> dict:
    T = mi.ScalarTransform4f
    to_world = T.look_at(
        origin=list(r.camera_origin), target=list(r.camera_target), up=list(camera_up(r))
    ) @ T.rotate([0, 0, 1], r.roll)
    beauty = integrator['type'] == 'path'
    d = {
        'type': 'scene',
        'integrator': integrator,
        'sensor': {
            'type': 'perspective',
            'fov': r.fov,
            'fov_axis': 'x',
            'to_world': to_world,
            'near_clip': 1.0,
            'far_clip': 2000.0,
            'film': {
                'type': 'hdrfilm',
                'width': width,
                'height': height,
                'pixel_format': 'rgb',
                'rfilter': {'type': 'gaussian'} if beauty else {'type': 'box'},
            },
        },
    }
    if background:
        d['table'] = {
            'type': 'rectangle',
            'to_world': T.rotate([1, 0, 0], -90) @ T.scale(300.0),
            'bsdf': {
                'type': 'roughplastic',
                'alpha': r.table_alpha,
                'diffuse_reflectance': {
                    'type': 'bitmap',
                    'bitmap': mi.Bitmap(r.table),
                    'to_uv': T.scale([r.table_scale, r.table_scale, 1]),
                },
            },
        }
        if r.wall is not None:
            d['wall'] = {
                'type': 'rectangle',
                'to_world': T.translate([0, 100.0, -r.wall_distance])
                @ T.scale([300.0, 100.0, 1.0]),
                'bsdf': {
                    'type': 'diffuse',
                    'reflectance': {
                        'type': 'bitmap',
                        'bitmap': mi.Bitmap(r.wall),
                        'to_uv': T.scale([3, 1, 1]),
                    },
                },
            }
        for k, part in enumerate(r.supports):
            d[f'support{k}'] = _mesh_shape(mi, f'support{k}', part.mesh, part.bsdf)
        for k, part in enumerate(r.clutter):
            d[f'clutter{k}'] = _mesh_shape(mi, f'clutter{k}', part.mesh, part.bsdf)
        if beauty:
            d['environment'] = {
                'type': 'envmap',
                'bitmap': mi.Bitmap(r.environment),
                'scale': r.env_scale,
            }
            d['light'] = {
                'type': 'rectangle',
                'to_world': T.look_at(
                    origin=list(r.light_position), target=[0, 0, 0], up=[0, 1, 0]
                )
                @ T.scale(r.light_size),
                'emitter': {'type': 'area', 'radiance': _rgb(r.light_radiance)},
            }
            for k, (position, size, radiance) in enumerate(r.extra_lights):
                d[f'light{k + 2}'] = {
                    'type': 'rectangle',
                    'to_world': T.look_at(origin=list(position), target=[0, 0, 0], up=[0, 1, 0])
                    @ T.scale(size),
                    'emitter': {'type': 'area', 'radiance': _rgb(radiance)},
                }
    for i, obj in enumerate(r.objects if objects is None else objects):
        for j, part in enumerate(obj.parts):
            d[f'obj{i}_{j}'] = _mesh_shape(mi, f'obj{i}_{j}', part.mesh, part.bsdf)
    return d


def _shape_ids(mi, scene_dict: dict) -> tuple[np.ndarray, list[str]]:
    """Per pixel, the index (into the returned names) of the first shape seen; -1 for none."""
    scene = mi.load_dict(scene_dict)
    names = [s.id() for s in scene.shapes()]
    values = np.asarray(mi.render(scene, spp=1, seed=0))[..., 0]
    # Mitsuba numbers shapes from 1 in the order of scene.shapes(); 0 is a miss
    return np.rint(values).astype(np.int64) - 1, names


def _tonemap(rgb: np.ndarray, exposure: float) -> np.ndarray:
    x = np.clip(rgb * exposure, 0.0, 1.0)
    srgb = np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)
    return (srgb * 255.0 + 0.5).astype(np.uint8)


def _lights(r: Recipe) -> list[tuple[np.ndarray, float]]:
    """Every area light of a recipe as (centre in cm, half side): the main one first."""
    return [(np.asarray(r.light_position, float), r.light_size)] + [
        (np.asarray(position, float), size) for position, size, _ in r.extra_lights
    ]


def camera_up(r: Recipe) -> np.ndarray:
    """
    Return the up vector the camera is oriented by: the world's, or ``up_hint`` looking down.

    Within about 11 degrees of straight down the world's up no longer orients the image (at 90
    degrees it is parallel to the view): the recipe's ``up_hint``, the horizontal direction the
    camera faces, takes over. Both give the same, unrolled image where they meet.
    """
    forward = np.asarray(r.camera_target, float) - np.asarray(r.camera_origin, float)
    forward /= np.linalg.norm(forward)
    if abs(forward[1]) > 0.98:
        return np.asarray(r.up_hint, float)
    return np.array([0.0, 1.0, 0.0])


def _camera_axes(r: Recipe) -> tuple[np.ndarray, np.ndarray]:
    """Return the camera's origin and its rows right, down, forward (the optical frame)."""
    origin = np.asarray(r.camera_origin, float)
    forward = np.asarray(r.camera_target, float) - origin
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, camera_up(r))
    right /= np.linalg.norm(right)
    return origin, np.stack([right, np.cross(forward, right), forward])


def light_backs_in_view(r: Recipe, width: int, height: int) -> list[int]:
    """
    Return the indices (0 the main light, then the extra ones) of lights whose back is in view.

    An area light is a one-sided rectangle facing the table's centre: from behind, the camera
    sees a black square, and a light between the camera and the table can blacken the whole
    frame while the truth (rendered without lights) still calls every glass behind it visible.
    A light counts when the camera is behind its plane and any part of it falls in the image
    (grown by 5% for the recipe's roll).
    """
    origin, axes = _camera_axes(r)
    f = 0.5 * width / math.tan(math.radians(r.fov) / 2.0)
    margin = 0.05 * width
    frame = np.array(
        [[-margin, -margin], [width + margin, -margin], [width + margin, height + margin],
         [-margin, height + margin]], np.float32,
    )  # fmt: skip
    out = []
    for k, (centre, size) in enumerate(_lights(r)):
        facing = -centre / max(np.linalg.norm(centre), 1e-9)  # it looks at (0, 0, 0)
        if float((origin - centre) @ facing) >= 0.0:
            continue  # the camera sees its lit side: a lamp in view, as in a room
        left = np.cross([0.0, 1.0, 0.0], facing)
        left /= max(np.linalg.norm(left), 1e-9)
        up = np.cross(facing, left)
        corners = [
            centre + size * (a * left + b * up) for a, b in ((1, 1), (-1, 1), (-1, -1), (1, -1))
        ]
        cam = [axes @ (c - origin) for c in corners]
        near = 1.0  # cm, the sensor's near clip
        clipped = []  # the rectangle clipped to z >= near (Sutherland-Hodgman, one plane)
        for a, b in zip(cam, cam[1:] + cam[:1]):
            if a[2] >= near:
                clipped.append(a)
            if (a[2] >= near) != (b[2] >= near):
                clipped.append(a + (b - a) * (near - a[2]) / (b[2] - a[2]))
        if len(clipped) < 3:
            continue
        pixels = np.array(
            [[f * c[0] / c[2] + width / 2.0, f * c[1] / c[2] + height / 2.0] for c in clipped],
            np.float32,
        )
        area, _ = cv2.intersectConvexConvex(cv2.convexHull(pixels), frame)
        if area > 0.0:
            out.append(k)
    return out


def lights_out_of_view(r: Recipe, width: int, height: int) -> Recipe:
    """
    Return the recipe with every light whose back is in view moved behind the camera.

    The light is mirrored through the camera's image plane, far enough that all of it lies
    behind the camera, and still faces the table's centre: it lights the scene from the camera's
    side instead of hiding it. Other recipes come back unchanged (the same object).
    """
    moved = light_backs_in_view(r, width, height)
    if not moved:
        return r
    origin, axes = _camera_axes(r)
    lights = _lights(r)
    for k in moved:
        centre, size = lights[k]
        ahead = float((centre - origin) @ axes[2]) + size * math.sqrt(2.0) + 1.0
        lights[k] = (centre - 2.0 * ahead * axes[2], size)
    extra = [
        (tuple(float(v) for v in lights[k + 1][0]), size, radiance)
        for k, (_, size, radiance) in enumerate(r.extra_lights)
    ]
    return replace(r, light_position=tuple(float(v) for v in lights[0][0]), extra_lights=extra)


def render_beauty(mi, recipe, width, height, q: Quality, seed, index, noise_tag: int = 4242):
    """
    Return the tone-mapped BGR image of a recipe and the generator its camera noise came from.

    Path traced at quality ``q``, denoised, blurred and noised as the recipe says; the noise
    generator is seeded by (seed, index, noise_tag), so a caller can go on drawing from it. A wide
    recipe's lights whose back would be in view are moved behind the camera first
    (:func:`lights_out_of_view`); the classic generator renders as it always did.
    """
    if recipe.effects is not None:  # the wide generator
        recipe = lights_out_of_view(recipe, width, height)
    scene = mi.load_dict(
        _scene_dict(mi, recipe, width, height, {'type': 'path', 'max_depth': q.max_depth})
    )
    rgb = np.asarray(mi.render(scene, spp=q.spp, seed=int(index) * 7919 + int(seed) % 7919))[
        ..., :3
    ]
    image = cv2.cvtColor(_tonemap(rgb, recipe.exposure), cv2.COLOR_RGB2BGR)
    if q.denoise:
        image = cv2.bilateralFilter(image, 5, 30, 3)
    rng = np.random.default_rng([int(seed), int(index), int(noise_tag)])
    if recipe.blur:
        image = cv2.GaussianBlur(image, (recipe.blur, recipe.blur), 0)
    if recipe.noise > 0.5:
        image = np.clip(
            image.astype(np.int16) + rng.normal(0, recipe.noise, image.shape).astype(np.int16),
            0,
            255,
        ).astype(np.uint8)
    if recipe.effects:
        image = wide.apply_camera_effects(image, recipe.effects)
    return image, rng


def render_pbr_scene(
    seed: int,
    index: int,
    width: int = 640,
    height: int = 480,
    quality: str = 'default',
    max_objects: int = 4,
    kinds=None,
    variety: str = 'classic',
    family_set: str = 'all',
) -> Scene:
    """
    Path trace scene ``index`` of stream ``seed``; objects carry boxes and visibility.

    Each object also carries its distance from the camera (to the middle of its axis, metres).
    """
    if quality not in QUALITIES:
        raise ValueError(f"quality '{quality}' is not one of {', '.join(QUALITIES)}")
    if width < 32 or height < 32:
        raise ValueError('scenes need at least 32x32 pixels')
    q = QUALITIES[quality]
    mi = load_mitsuba()
    recipe = make_recipe(seed, index, max_objects, kinds, variety, family_set)
    image, _ = render_beauty(mi, recipe, width, height, q, seed, index)

    # ground truth: what each pixel sees first, then each object alone (coarse) for its visibility
    aov = {'type': 'aov', 'aovs': 'si:shape_index'}
    ids, names = _shape_ids(mi, _scene_dict(mi, recipe, width, height, aov))
    owner = np.array(
        [int(n[3:].split('_')[0]) if n.startswith('obj') else -1 for n in names] + [-1]
    )
    pixel_owner = owner[ids]  # ids of -1 index the trailing -1
    coarse = max(1, min(width, height) // 120)
    objects = []
    for i, obj in enumerate(recipe.objects):
        ys, xs = np.nonzero(pixel_owner == i)
        if len(xs) < 16:
            continue
        alone, _ = _shape_ids(
            mi,
            _scene_dict(
                mi, recipe, width // coarse, height // coarse, aov, objects=[obj], background=False
            ),
        )
        full = max(1, int((alone >= 0).sum())) * coarse * coarse
        box = Box.from_xyxy(xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        top = float(max(p.mesh.vertices[:, 1].max() for p in obj.parts))
        middle = np.array([obj.x, top / 2.0, obj.z])
        distance = float(np.linalg.norm(middle - np.asarray(recipe.camera_origin))) / 100.0
        objects.append(
            SceneObject(
                obj.kind,
                obj.variant,
                box,
                visibility=min(1.0, len(xs) / full),
                distance=round(distance, 3),
            )
        )
    return Scene(image=image, objects=objects, meta=dict(recipe.meta))


__all__ = [
    'QUALITIES',
    'Quality',
    'VARIETIES',
    'render_pbr_scene',
    'make_recipe',
    'light_backs_in_view',
    'lights_out_of_view',
    'lathe',
    'tube',
    'signed_volume',
    'vessel_profile',
    'fill_profile',
    'MeshData',
]
