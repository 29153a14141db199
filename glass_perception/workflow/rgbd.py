"""
Path-traced RGB-D table-top scenes, with the depth an active-stereo camera reports on glass.

The colour image is :func:`glass_perception.workflow.pbr.render_pbr_scene`'s path tracer; the
camera is placed as a robot's wrist or head camera sees a table (0.4-1.3 m from the point it looks
at, looking down 20-55 degrees by default, anything from 0 to 90 on request, no roll) with
RealSense-like intrinsics (640x480, fx = fy = 606, principal point at the image centre, no
distortion: what ``aligned_depth_to_color`` publishes). Optionally a tray, board, coaster or plate
(workflow.supports) stands under some of the objects.

**The sensor model.** Two depth passes are rendered (Mitsuba's ``depth`` AOV, the distance along
each pixel's ray, turned into z along the optical axis): the scene as it is, and the scene without
its transparent objects (glasses, bottles and what is inside them). The depth an active-stereo
camera (RealSense D4xx, Orbbec, ZED) reports is then built from them, as ClearGrasp (Sajjan et al.,
ICRA 2020) and the RealSense white papers on transparent and specular surfaces describe it:

* on transparent glass, the depth of what lies **behind** it (the table, the wall), refracted: the
  behind pass is sampled a few pixels off, with twice the opaque noise; with **holes** in blobs
  (smoothed noise thresholded so that 30-70 % of each glass is missing), along its silhouette
  (a 2-4 px band) and at its highlights (bright pixels in the colour image);
* on opaque surfaces, the true depth with noise growing with distance squared (RMS
  0.5 mm + 2.5 mm * z^2, z in metres: about 3 mm at 1 m, as a D435's specification at 640x480),
  a stereo shadow (no reading) a few pixels wide on the left of depth edges over 3 cm, and a few
  dropouts (0.5 % of the pixels, plus small blobs);
* no reading closer than 0.28 m or beyond 6 m, nor where a ray leaves the scene; then rounded
  to whole millimetres, 16UC1, 0 = no reading.

Ground truth per object, in the camera's optical frame (x right, y down, z forward, metres, as
REP 103 and camera drivers define it): class, variant, 2D box and visible fraction as the RGB
scenes have them, whether the box is cut by the image border, the base centre (where the object
touches the table), the axis centre (mid-height on the axis), height and diameter (the widest
part, handle excluded); per scene, the table plane ``n . p + d = 0`` with ``n`` pointing up, out
of the table. Every scene is a pure function of (seed, index, quality).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math

import cv2
import numpy as np

from .clutter import add_clutter, CLUTTER_KINDS, FIRST_KINDS
from .lying import lay_down
from .pbr import _camera_axes, _scene_dict, load_mitsuba, make_recipe, QUALITIES, render_beauty
from .supports import add_supports
from ..core.geometry import Box

WIDTH, HEIGHT = 640, 480
FX = FY = 606.0
CX, CY = (WIDTH - 1) / 2.0, (HEIGHT - 1) / 2.0
#: objects whose surfaces an active-stereo camera does not see
TRANSPARENT_KINDS = ('beer_glass', 'soju_glass', 'bottle')
MIN_Z_M, MAX_Z_M = 0.28, 6.0
DISTANCE_CM = (40.0, 130.0)
NEAR_CLIP_CM = 1.0  # pbr._scene_dict's near_clip
LOOK_DOWN_DEG = (20.0, 55.0)


@dataclass
class ObjectTruth:
    kind: str
    variant: str
    box: Box
    visibility: float
    truncated: bool  # the box touches the image border
    base: tuple[float, float, float]  # optical frame, metres
    centre: tuple[float, float, float]  # on the axis at mid-height
    height: float  # metres
    diameter: float  # metres, widest part without the handle
    track_id: int | None = None  # the object's index in its recipe: one id over a sequence
    support: str = ''  # what it stands on when not the table (workflow.supports)
    support_height: float = 0.0  # metres above the table
    lying: bool = False  # on its side (workflow.lying): base, centre and height do not apply

    def to_json(self) -> dict:
        extra = {} if self.track_id is None else {'track_id': self.track_id}
        if self.lying:
            extra['lying'] = True
        if self.support:
            extra.update(support=self.support, support_height=round(self.support_height, 5))
        return {
            **extra,
            'kind': self.kind,
            'variant': self.variant,
            'box': [round(v, 2) for v in (self.box.cx, self.box.cy, self.box.w, self.box.h)],
            'visibility': round(self.visibility, 3),
            'truncated': self.truncated,
            'base': [round(v, 5) for v in self.base],
            'centre': [round(v, 5) for v in self.centre],
            'height': round(self.height, 5),
            'diameter': round(self.diameter, 5),
        }


@dataclass
class RGBDScene:
    image: np.ndarray  # HxWx3 uint8 BGR
    depth: np.ndarray  # HxW uint16 millimetres, 0 = no reading
    true_depth: np.ndarray  # HxW float32 metres, first surface hit (0 = none)
    objects: list[ObjectTruth] = field(default_factory=list)
    table_plane: tuple[float, float, float, float] = (0.0, -1.0, 0.0, 0.0)
    #: (R, t): p_optical [m] = R @ p_world [cm] / 100 + t
    camera_pose: tuple[np.ndarray, np.ndarray] | None = None
    meta: dict = field(default_factory=dict)  # how the wide generator drew it (table, wall)

    def truth_json(self, with_pose: bool = False) -> dict:
        out = {
            'objects': [o.to_json() for o in self.objects],
            'table_plane': [round(v, 6) for v in self.table_plane],
            **({'scene': self.meta} if self.meta else {}),
        }
        if with_pose and self.camera_pose is not None:
            rot, t = self.camera_pose
            # world in metres: p_optical = R @ p_world + t
            out['camera_pose'] = {
                'R': [[round(float(v), 7) for v in row] for row in rot],
                't': [round(float(v), 6) for v in t],
            }
        return out


def camera_matrix() -> np.ndarray:
    """Return K of every RGB-D scene."""
    return np.array([[FX, 0.0, CX], [0.0, FY, CY], [0.0, 0.0, 1.0]])


def camera_info_yaml(
    camera_name: str = 'glass_synthetic_rgbd', fxy_cxy=(FX, FY, CX, CY), size=(WIDTH, HEIGHT)
) -> str:
    """Return a calibration (default: the scenes') as camera_calibration_parsers writes it."""
    fx, fy, cx, cy = (float(v) for v in fxy_cxy)
    k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
    p = [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0]

    def row(values):
        return '[' + ', '.join(f'{v:g}' for v in values) + ']'

    return (
        f'image_width: {size[0]}\nimage_height: {size[1]}\ncamera_name: {camera_name}\n'
        f'camera_matrix:\n  rows: 3\n  cols: 3\n  data: {row(k)}\n'
        'distortion_model: plumb_bob\n'
        'distortion_coefficients:\n  rows: 1\n  cols: 5\n  data: [0, 0, 0, 0, 0]\n'
        'rectification_matrix:\n  rows: 3\n  cols: 3\n  data: [1, 0, 0, 0, 1, 0, 0, 0, 1]\n'
        f'projection_matrix:\n  rows: 3\n  cols: 4\n  data: {row(p)}\n'
    )


def rgbd_recipe(
    seed: int,
    index: int,
    max_objects: int = 4,
    variety: str = 'classic',
    family_set: str = 'all',
    look_down: tuple[float, float] = LOOK_DOWN_DEG,
    supports: float = 0.0,
    clutter: float = 0.0,
    clutter_kinds: tuple[str, ...] = CLUTTER_KINDS,
    lying: float = 0.0,
):
    """
    Return make_recipe's scene with the RGB-D camera: distance, look-down angle, fixed K.

    ``variety`` and ``family_set`` choose make_recipe's generator; the camera is drawn the same
    way for both, so 'classic' scenes are the ones every earlier RGB-D folder holds. The camera
    looks down ``look_down`` degrees (drawn uniformly; 90 is straight down, as a wrist camera
    before a grasp); with probability ``supports`` one object stands on a tray, board, coaster or
    plate (workflow.supports; drawn from a stream of its own, so the rest of the scene is the one
    the same seed gives without supports); with probability ``clutter`` one to three opaque
    unlabelled things of ``clutter_kinds`` (boxes, cases, fruit, ...; workflow.clutter, a stream
    of its own too) stand beside the glasses; each glass, bottle or cup without a handle lies on
    its side with probability ``lying`` (workflow.lying, its own stream; before the clutter, which
    then stands clear of it).
    """
    if not 0.0 <= look_down[0] <= look_down[1] <= 90.0:
        raise ValueError(f'look-down angles {look_down} are not within 0-90 degrees, low to high')
    if not 0.0 <= supports <= 1.0:
        raise ValueError(f'supports {supports} is not a probability')
    if not 0.0 <= clutter <= 1.0:
        raise ValueError(f'clutter {clutter} is not a probability')
    if not 0.0 <= lying <= 1.0:
        raise ValueError(f'lying {lying} is not a probability')
    unknown = set(clutter_kinds) - set(CLUTTER_KINDS)
    if unknown or not clutter_kinds:
        raise ValueError(
            f"clutter kinds {sorted(unknown) or '(none)'}: choose from {', '.join(CLUTTER_KINDS)}"
        )
    recipe = make_recipe(seed, index, max_objects, variety=variety, family_set=family_set)
    if supports > 0.0:
        add_supports(np.random.default_rng([int(seed), int(index), 778]), recipe, supports)
    if lying > 0.0:
        lay_down(np.random.default_rng([int(seed), int(index), 780]), recipe, lying)
    if clutter > 0.0:
        add_clutter(
            np.random.default_rng([int(seed), int(index), 779]), recipe, clutter, clutter_kinds
        )
    rng = np.random.default_rng([int(seed), int(index), 777])
    distance = rng.uniform(*DISTANCE_CM)
    down = math.radians(rng.uniform(*look_down))
    azimuth = math.radians(rng.uniform(-25.0, 25.0))
    # look at a point among the objects, so that most of them are in view
    xs = [o.x for o in recipe.objects] or [0.0]
    zs = [o.z for o in recipe.objects] or [0.0]
    target = np.array(
        [float(np.mean(xs)) + rng.uniform(-3, 3), rng.uniform(3.0, 7.0), float(np.mean(zs))]
    )
    if down > math.radians(60.0) and recipe.objects:
        # looking steeply down the view is narrow: at one object, as a wrist camera before a grasp
        pick = recipe.objects[int(rng.integers(len(recipe.objects)))]
        target[0], target[2] = pick.x + rng.uniform(-4, 4), pick.z + rng.uniform(-4, 4)
    offset = distance * np.array(
        [math.cos(down) * math.sin(azimuth), math.sin(down), math.cos(down) * math.cos(azimuth)]
    )
    recipe.camera_origin = tuple(float(v) for v in target + offset)
    recipe.camera_target = tuple(float(v) for v in target)
    # the horizontal direction the camera faces: its image's up when looking straight down
    recipe.up_hint = (-math.sin(azimuth), 0.0, -math.cos(azimuth))
    recipe.fov = math.degrees(2.0 * math.atan(WIDTH / 2.0 / FX))
    recipe.roll = 0.0
    recipe.blur = 0 if recipe.blur == 0 else 3
    return recipe


def world_to_optical(recipe) -> tuple[np.ndarray, np.ndarray]:
    """
    Return (R, t): p_optical [m] = R @ p_world [cm] / 100 + t, for the recipe's camera.

    Mitsuba's look_at camera has +z forward, +y up and +x to the left; the optical frame has
    x right, y down, z forward.
    """
    origin, rot = _camera_axes(recipe)
    return rot, -rot @ origin / 100.0


def _ray_norm(width: int, height: int) -> np.ndarray:
    """Per pixel, |ray| / z for a ray through the pixel centre (depth AOV -> z)."""
    u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    return np.sqrt(1.0 + ((u - CX) / FX) ** 2 + ((v - CY) / FY) ** 2)


def _depth_and_ids(mi, recipe, objects=None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    aov = {'type': 'aov', 'aovs': 'dd:depth,si:shape_index'}
    scene = mi.load_dict(_scene_dict(mi, recipe, WIDTH, HEIGHT, aov, objects=objects))
    names = [s.id() for s in scene.shapes()]
    values = np.asarray(mi.render(scene, spp=1, seed=0))
    # Mitsuba's rays start on the near clipping plane (NEAR_CLIP_CM, set by _scene_dict): the
    # depth AOV is the distance from there; the scenes are in centimetres
    t = values[..., 0]
    z = np.where(t > 0, t / _ray_norm(WIDTH, HEIGHT) + NEAR_CLIP_CM, 0.0) / 100.0
    ids = np.rint(values[..., 1]).astype(np.int64) - 1
    return z.astype(np.float32), ids, names


def _blobs(rng, shape, sigma: float) -> np.ndarray:
    """Smooth noise in [0, 1] whose level sets are blobs about ``sigma`` pixels across."""
    noise = rng.random(shape).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), sigma)
    lo, hi = float(smooth.min()), float(smooth.max())
    return (smooth - lo) / max(hi - lo, 1e-6)


def sensor_depth(
    rng, z_true: np.ndarray, z_behind: np.ndarray, glass: np.ndarray, image: np.ndarray
) -> np.ndarray:
    """
    Return what an active-stereo camera reports, in millimetres (uint16, 0 = no reading).

    ``z_true``: first surface in metres (0: nothing hit); ``z_behind``: the same without the
    transparent objects; ``glass``: a label image, >0 where a transparent object is seen first
    (one label per object); ``image``: the BGR colour image (highlights).
    """
    h, w = z_true.shape
    out = z_true.astype(np.float64).copy()
    # opaque: noise growing with z^2, shadows left of depth edges, a few dropouts
    sigma = 0.0005 + 0.0025 * out**2
    out += rng.normal(0.0, 1.0, out.shape) * sigma
    valid = z_true > 0
    edge = np.zeros_like(valid)
    jump = np.abs(np.diff(z_true, axis=1)) > 0.03
    for k in range(1, 5):
        edge[:, : w - k] |= np.pad(jump, ((0, 0), (0, 1)))[:, k:]
    valid &= ~edge
    valid &= rng.random(out.shape) > 0.005
    valid &= _blobs(rng, out.shape, 3.0) < 0.97
    # transparent: the refracted background, holes in blobs, silhouettes and highlights
    if glass.any():
        shift = rng.integers(-4, 5, 2)
        behind = np.roll(z_behind, (int(shift[0]), int(shift[1])), axis=(0, 1)).astype(np.float64)
        on_glass = glass > 0
        noisy = behind + rng.normal(0.0, 1.0, out.shape) * 2.0 * (0.0005 + 0.0025 * behind**2)
        out[on_glass] = noisy[on_glass]
        valid[on_glass] = behind[on_glass] > 0
        blobs = _blobs(rng, out.shape, 6.0)
        for label in np.unique(glass[on_glass]):
            mine = glass == label
            missing = rng.uniform(0.3, 0.7)
            cut = np.quantile(blobs[mine], missing)
            valid[mine & (blobs < cut)] = False
        band = int(rng.integers(2, 5))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
        mask = on_glass.astype(np.uint8)
        silhouette = cv2.dilate(mask, kernel) - cv2.erode(mask, kernel)
        valid[silhouette > 0] = False
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        highlight = cv2.dilate(((grey > 225) & on_glass).astype(np.uint8), np.ones((5, 5)))
        valid[highlight > 0] = False
    valid &= (out >= MIN_Z_M) & (out <= MAX_Z_M)
    mm = np.where(valid, np.rint(out * 1000.0), 0.0)
    return np.clip(mm, 0, 65535).astype(np.uint16)


def _truth(recipe, obj, box, visibility, rot, t) -> ObjectTruth:
    vessel = obj.parts[0].mesh.vertices.astype(np.float64)
    height_cm = float(vessel[:, 1].max()) - obj.y
    radial = np.hypot(vessel[:, 0] - obj.x, vessel[:, 2] - obj.z)
    base = rot @ np.array([obj.x, obj.y, obj.z]) / 100.0 + t
    centre = rot @ np.array([obj.x, obj.y + height_cm / 2.0, obj.z]) / 100.0 + t
    x0, y0, x1, y1 = box.xyxy()
    truncated = x0 <= 0.5 or y0 <= 0.5 or x1 >= WIDTH - 0.5 or y1 >= HEIGHT - 0.5
    return ObjectTruth(
        obj.kind,
        obj.variant,
        box,
        visibility,
        bool(truncated),
        tuple(float(v) for v in base),
        tuple(float(v) for v in centre),
        height_cm / 100.0,
        2.0 * float(radial.max()) / 100.0,
        support=recipe.meta.get('support', '') if obj.y > 0.0 else '',
        support_height=obj.y / 100.0,
        lying=obj.lying,
    )


def render_rgbd_scene(
    seed: int,
    index: int,
    quality: str = 'fast',
    variety: str = 'classic',
    family_set: str = 'all',
    look_down: tuple[float, float] = LOOK_DOWN_DEG,
    supports: float = 0.0,
    clutter: float = 0.0,
    clutter_kinds: tuple[str, ...] = CLUTTER_KINDS,
    lying: float = 0.0,
) -> RGBDScene:
    """Path trace RGB-D scene ``index`` of stream ``seed``, with its sensor depth and truth."""
    recipe = rgbd_recipe(
        seed,
        index,
        variety=variety,
        family_set=family_set,
        look_down=look_down,
        supports=supports,
        clutter=clutter,
        clutter_kinds=tuple(clutter_kinds),
        lying=lying,
    )
    return render_rgbd_recipe(recipe, seed, index, quality)


def render_rgbd_recipe(
    recipe, seed: int, index: int, quality: str = 'fast', track_ids: bool = False
) -> RGBDScene:
    """
    Path trace ``recipe`` with the RGB-D camera; (seed, index) seed the camera and sensor noise.

    With ``track_ids``, each object's truth carries its index in ``recipe.objects``: the same in
    every frame rendered from that recipe's objects (a sequence).
    """
    if quality not in QUALITIES:
        raise ValueError(f"quality '{quality}' is not one of {', '.join(QUALITIES)}")
    q = QUALITIES[quality]
    mi = load_mitsuba()
    image, rng = render_beauty(mi, recipe, WIDTH, HEIGHT, q, seed, index, noise_tag=4243)

    z_true, ids, names = _depth_and_ids(mi, recipe)
    owner_of_shape = np.array(
        [int(n[3:].split('_')[0]) if n.startswith('obj') else -1 for n in names] + [-1]
    )
    owner = owner_of_shape[ids]
    opaque = [o for o in recipe.objects if o.kind not in TRANSPARENT_KINDS]
    z_behind, _, _ = _depth_and_ids(mi, recipe, objects=opaque)
    glass = np.zeros(owner.shape, np.int32)
    for i, obj in enumerate(recipe.objects):
        if obj.kind in TRANSPARENT_KINDS:
            glass[owner == i] = i + 1
    depth = sensor_depth(rng, z_true, z_behind, glass, image)

    rot, t = world_to_optical(recipe)
    objects = []
    coarse = 4
    for i, obj in enumerate(recipe.objects):
        ys, xs = np.nonzero(owner == i)
        if len(xs) < 16:
            continue
        aov = {'type': 'aov', 'aovs': 'si:shape_index'}
        alone = mi.load_dict(
            _scene_dict(
                mi, recipe, WIDTH // coarse, HEIGHT // coarse, aov, objects=[obj], background=False
            )
        )
        seen_alone = np.asarray(mi.render(alone, spp=1, seed=0))[..., 0] > 0.5
        full = max(1, int(seen_alone.sum())) * coarse * coarse
        box = Box.from_xyxy(xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        truth = _truth(recipe, obj, box, min(1.0, len(xs) / full), rot, t)
        truth.track_id = i if track_ids else None
        objects.append(truth)
    normal = rot @ np.array([0.0, 1.0, 0.0])
    d = -float(normal @ t)
    return RGBDScene(
        image=image,
        depth=depth,
        true_depth=np.where(z_true > 0, z_true, 0).astype(np.float32),
        objects=objects,
        table_plane=(float(normal[0]), float(normal[1]), float(normal[2]), d),
        camera_pose=(rot, t),
        meta=dict(recipe.meta),
    )


def write_rgbd_frame(colour_path, depth_path, scene: RGBDScene) -> None:
    """Write a scene's colour (JPEG, quality 92) and depth (16-bit PNG), each atomically."""
    from ..core.atomic import atomic_path

    for path, image, options in (
        (colour_path, scene.image, [cv2.IMWRITE_JPEG_QUALITY, 92]),
        (depth_path, scene.depth, [cv2.IMWRITE_PNG_COMPRESSION, 9]),
    ):
        with atomic_path(path) as tmp:
            if not cv2.imwrite(str(tmp), image, options):
                raise OSError(f'cannot write {path}')


def export_rgbd(
    root,
    seed: int,
    count: int,
    quality: str = 'fast',
    progress=lambda it: it,
    variety: str = 'classic',
    family_set: str = 'all',
    look_down: tuple[float, float] = LOOK_DOWN_DEG,
    supports: float = 0.0,
    clutter: float = 0.0,
    clutter_kinds: tuple[str, ...] = CLUTTER_KINDS,
    lying: float = 0.0,
) -> int:
    """
    Render ``count`` scenes of stream ``seed`` into an ``rgbd:DIR`` folder; return the count.

    Layout: ``camera_info.yaml``, ``color/<stem>.jpg``, ``depth/<stem>.png`` (16-bit,
    millimetres) and ``truth.json`` (stem -> objects and table plane). Resumable: the truth is
    saved after every scene and a second run skips the scenes it already holds.
    """
    import json
    from pathlib import Path

    from ..core.atomic import atomic_write_text

    root = Path(root)
    options = {
        'variety': variety,
        'family_set': family_set,
        'look_down': look_down,
        'supports': supports,
        'clutter': clutter,
        'clutter_kinds': tuple(clutter_kinds),
        'lying': lying,
    }
    rgbd_recipe(seed, 0, **options)  # ValueError before any file
    (root / 'color').mkdir(parents=True, exist_ok=True)
    (root / 'depth').mkdir(parents=True, exist_ok=True)
    atomic_write_text(root / 'camera_info.yaml', camera_info_yaml())
    truth_file = root / 'truth.json'
    truth = json.loads(truth_file.read_text()) if truth_file.is_file() else {}
    settings = {
        'seed': int(seed),
        'quality': quality,
        **({'variety': variety, 'families': family_set} if variety != 'classic' else {}),
        **({'look_down': list(look_down)} if tuple(look_down) != LOOK_DOWN_DEG else {}),
        **({'supports': supports} if supports else {}),
        **({'clutter': clutter} if clutter else {}),
        **(
            {'clutter_kinds': list(clutter_kinds)}
            if clutter and tuple(clutter_kinds) != FIRST_KINDS
            else {}
        ),
        **({'lying': lying} if lying else {}),
    }
    meta_file = root / 'rgbd_settings.json'
    if meta_file.is_file() and json.loads(meta_file.read_text()) != settings:
        raise ValueError(
            f'{root} holds scenes rendered with {meta_file.read_text()}, not {settings}'
        )
    atomic_write_text(meta_file, json.dumps(settings))
    for index in progress(range(count)):
        stem = f's{seed}_{index:05d}'
        colour, depth = root / 'color' / f'{stem}.jpg', root / 'depth' / f'{stem}.png'
        if stem in truth and colour.is_file() and depth.is_file():
            continue
        scene = render_rgbd_scene(seed, index, quality, **options)
        write_rgbd_frame(colour, depth, scene)
        truth[stem] = scene.truth_json()
        atomic_write_text(truth_file, json.dumps(truth, indent=1, sort_keys=True))
    return len(truth)
