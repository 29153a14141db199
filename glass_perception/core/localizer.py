"""
Where a glass stands, in metres, from its 2D box and a depth image that cannot see glass.

An RGB-D camera reports the surface *behind* transparent glass, noisy and with holes, so the depth
on the glass itself is never used. What it sees well is the support surface around the glass:

1. valid depth around the object's footprint (beside and below the box, outside every box) is
   back-projected and a plane is fitted to it robustly (RANSAC, then a least-squares refit on the
   inliers);
2. the ray through the middle of the box's bottom edge meets the plane at the nearest point of the
   glass's base; the base centre lies one base radius further, along the surface, away from the
   camera;
3. the ray through the top edge passes the far rim: the height is where the axis, raised along
   the plane's normal, comes closest to it; the diameter is the box's angular width at the
   axis's distance. Steps 2 and 3 are iterated, since each needs the other's radius;
4. that closed form is refined (scipy's fsolve: MINPACK's hybrid Powell method) so that the
   outline of an upright truncated cone standing there, projected through the camera, fills the
   box (4 edges, 4 unknowns): this takes the perspective slant of a tall glass off the image
   centre and the base's own radius (the class's base/rim ratio, learnt with the size model)
   into account.

**Assumption:** the glass stands upright on the surface the plane fit finds. When it does not (a
glass held in a gripper, lying on its side, standing on something the fit did not see, or cut by
the image border), the measured size is implausible for glassware or the geometry does not close;
the estimate is then *flagged* (``Localization.flag`` says why) and its covariance widened to that
of the size prior, never silently reported as precise. When no surface can be fitted (too few
valid points, no dominant plane), the position comes from a class size prior: the box's height in
pixels and the class's typical height give the distance along the ray through the box centre,
with a covariance a quarter of the distance wide.

Results are in the camera's optical frame (x right, y down, z forward). No ROS here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math

import numpy as np
from scipy.optimize import fsolve
from scipy.spatial.transform import Rotation

from .camera_model import Intrinsics
from .geometry import Box

#: typical heights (m) when the surface cannot be found: the middle of each class's range
PRIOR_HEIGHT = {'cup': 0.095, 'beer_glass': 0.17, 'soju_glass': 0.062}
DEFAULT_PRIOR_HEIGHT = 0.12
#: plausible sizes for glassware standing upright (m); outside: flagged
HEIGHT_RANGE = (0.025, 0.40)
DIAMETER_RANGE = (0.02, 0.18)
ASPECT_RANGE = (0.3, 9.0)  # height / diameter
#: the base is narrower than the widest part: mean base/top radius of the three classes
BASE_RATIO = 0.8
SURFACE = 'surface'
#: relative error of the measured height and diameter (log-space sigma, 0.12 for both, that
#: glass-fit-sizes measured on the validation scenes of seed 9201)
SIZE_REL_SIGMA = 0.12
#: the covariance model scaled so that 95 % of the validation scenes' centre errors (seed 9201,
#: detected boxes) fall inside its 95 % ellipsoid; the rest are occlusions and handles
COVARIANCE_SCALE = 2.05
SIZE_PRIOR = 'size_prior'


# the outline model: rings at the base and the rim, 16 points each (a cone's outline is theirs)
_THETA = np.tile(np.linspace(0.0, 2.0 * math.pi, 16, endpoint=False), 2)
_RING_H = np.repeat([0.0, 1.0], 16)
_RING_COS, _RING_SIN = np.cos(_THETA), np.sin(_THETA)


def depth_sigma(z: np.ndarray | float) -> np.ndarray | float:
    """Return the RMS noise (m) of an active-stereo depth reading at distance z (m)."""
    return 0.0005 + 0.0025 * np.asarray(z) ** 2


@dataclass(frozen=True)
class LocalizerConfig:
    min_surface_points: int = 30
    min_inlier_fraction: float = 0.4
    max_points: int = 600
    ransac_trials: int = 64
    seed: int = 0


@dataclass
class Plane:
    normal: np.ndarray  # unit, pointing to the camera's side
    d: float  # normal . p + d = 0
    inliers: int
    points: int
    rms: float  # of the inliers, m

    def distance(self, p: np.ndarray) -> np.ndarray:
        return np.asarray(p) @ self.normal + self.d


@dataclass
class Localization:
    base: np.ndarray  # (3,) where the glass touches the surface
    centre: np.ndarray  # (3,) on the axis at mid-height
    axis: np.ndarray  # (3,) unit, up along the surface normal
    height: float
    diameter: float
    covariance: np.ndarray  # (3, 3) of the centre's position, m^2
    method: str  # SURFACE or SIZE_PRIOR
    flag: str = ''  # why the estimate is not to be trusted as measured ('' = fine)
    plane: Plane | None = None
    size_measured: bool = field(default=False)

    @property
    def distance(self) -> float:
        return float(np.linalg.norm(self.centre))

    def frame(self) -> np.ndarray:
        """Return the upright box's axes as columns: away from the camera, sideways, up."""
        away = _unit(self.centre - (self.centre @ self.axis) * self.axis)
        return np.stack([away, _unit(np.cross(self.axis, away)), self.axis], axis=1)

    def quaternion(self) -> tuple[float, float, float, float]:
        """Return the box's orientation as (x, y, z, w): its z axis along the surface normal."""
        return tuple(float(v) for v in Rotation.from_matrix(self.frame()).as_quat())

    def pose_covariance(self) -> np.ndarray:
        """
        Return the 6x6 covariance (x, y, z, rotations about x, y, z) of the pose.

        Tilt: the plane normal's uncertainty (3 degrees; 15 from the prior); the turn about the
        axis is unknown (a glass is round): the variance of a uniform angle.
        """
        tilt = math.radians(3.0 if self.method == SURFACE and not self.flag else 15.0)
        b = self.frame()
        rot = b @ np.diag([tilt**2, tilt**2, math.pi**2 / 3.0]) @ b.T
        out = np.zeros((6, 6))
        out[:3, :3] = self.covariance
        out[3:, 3:] = rot
        return out


def fit_plane(points: np.ndarray, threshold: float, config: LocalizerConfig) -> Plane | None:
    """
    Fit the dominant plane of ``points`` (N, 3) robustly; None when there is none.

    RANSAC with every hypothesis at once: ``ransac_trials`` random triplets become planes in one
    batch, their inliers are counted with one matrix product, and the best consensus set is
    refitted by least squares (SVD). scikit-learn's RANSACRegressor finds the same planes (a test
    compares them) but spends about 2 ms of per-call validation on each glass, which a per-frame
    budget of a few milliseconds cannot afford.
    """
    n = len(points)
    if n < config.min_surface_points:
        return None
    rng = np.random.default_rng(config.seed)
    pick = rng.integers(0, n, size=(config.ransac_trials, 3))
    a, b, c = points[pick[:, 0]], points[pick[:, 1]], points[pick[:, 2]]
    normals = np.cross(b - a, c - a)
    length = np.linalg.norm(normals, axis=1)
    ok = length > 1e-9
    if not ok.any():
        return None
    normals = normals[ok] / length[ok, None]
    offsets = -np.einsum('ij,ij->i', normals, a[ok])
    inliers = np.abs(points @ normals.T + offsets) <= threshold  # (N, trials)
    best = int(np.argmax(inliers.sum(axis=0)))
    mask = inliers[:, best]
    for _ in range(2):  # refit on the consensus set, then take the inliers of the refit
        good = points[mask]
        if len(good) < config.min_surface_points:
            return None
        centre = good.mean(axis=0)
        normal = np.linalg.svd(good - centre, full_matrices=False)[2][2]
        d = -float(normal @ centre)
        mask = np.abs(points @ normal + d) <= threshold
    if mask.sum() < config.min_surface_points or mask.mean() < config.min_inlier_fraction:
        return None
    if d < 0:  # the camera (origin) is on the side the normal points to
        normal, d = -normal, -d
    rms = float(np.sqrt(np.mean((points[mask] @ normal + d) ** 2)))
    return Plane(normal, d, int(mask.sum()), n, rms)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


class Localizer:
    """Turn boxes and a depth image into upright glasses standing on a surface."""

    def __init__(self, config: LocalizerConfig | None = None, base_ratios: dict | None = None):
        self.config = config or LocalizerConfig()
        self.base_ratios = dict(base_ratios or {})

    # ---- the support surface ------------------------------------------------------------
    def surface_points(
        self, box: Box, depth: np.ndarray, camera: Intrinsics, others: list[Box]
    ) -> np.ndarray:
        """Return valid depth points (N, 3) around the footprint of ``box``, outside all boxes."""
        h, w = depth.shape
        x0, y0, x1, y1 = box.xyxy()
        margin_x = 1.5 * box.w + 10.0
        rx0, rx1 = int(max(0, x0 - margin_x)), int(min(w, x1 + margin_x))
        ry0, ry1 = int(max(0, y1 - 0.5 * box.h)), int(min(h, y1 + 0.5 * box.h + 12.0))
        if rx1 - rx0 < 2 or ry1 - ry0 < 2:
            return np.zeros((0, 3))
        patch = depth[ry0:ry1, rx0:rx1]
        keep = np.isfinite(patch)
        for b in [box, *others]:
            bx0, by0, bx1, by1 = b.xyxy()
            ix0, ix1 = int(max(bx0 - 3 - rx0, 0)), int(min(bx1 + 3 - rx0, rx1 - rx0))
            iy0, iy1 = int(max(by0 - 3 - ry0, 0)), int(min(by1 + 3 - ry0, ry1 - ry0))
            if ix1 > ix0 and iy1 > iy0:
                keep[iy0:iy1, ix0:ix1] = False
        vs, us = np.nonzero(keep)
        if len(us) > self.config.max_points:  # an even, deterministic subsample
            pick = np.linspace(0, len(us) - 1, self.config.max_points).astype(int)
            vs, us = vs[pick], us[pick]
        z = patch[vs, us].astype(np.float64)
        rays = camera.rays(us + rx0, vs + ry0)
        return rays * z[:, None]

    # ---- one glass ----------------------------------------------------------------------
    def locate(
        self,
        box: Box,
        depth: np.ndarray,
        camera: Intrinsics,
        label: str | None = None,
        others: list[Box] | None = None,
    ) -> Localization:
        """Localise the glass in ``box`` (detector pixels) on ``depth`` (metres, NaN = none)."""
        points = self.surface_points(box, depth, camera, others or [])
        plane = None
        if len(points) >= self.config.min_surface_points:
            z_med = float(np.median(points[:, 2]))
            plane = fit_plane(points, max(0.006, 3.0 * depth_sigma(z_med)), self.config)
        if plane is None:
            return self.from_prior(box, camera, label, 'no support surface found around the box')
        return self.on_surface(box, camera, plane, label)

    def on_surface(
        self, box: Box, camera: Intrinsics, plane: Plane, label: str | None = None
    ) -> Localization:
        """Fit an upright glass standing on ``plane`` to the box (module docstring, steps 2-3)."""
        ratio = self.base_ratio(label)
        first = self._closed_form(box, camera, plane, ratio)
        if first is None:
            return self.from_prior(
                box, camera, label, 'the bottom edge does not meet the surface', plane
            )
        base0, height0, diameter0, away = first
        n = plane.normal
        side = _unit(np.cross(n, away))
        observed = np.asarray(box.xyxy())

        def model(p):  # metres along the surface; log height and log diameter
            base = base0 + p[0] * away + p[1] * side
            return self.model_box(camera, base, n, away, math.exp(p[2]), math.exp(p[3]), ratio)

        # the closed form ignores perspective slant and the base's own radius: refine it so the
        # model's projected outline fills the box
        try:
            # 4 box edges, 4 unknowns: a square system for MINPACK's hybrid Powell solver
            x, info, ier, _ = fsolve(
                lambda p: (model(p) - observed) / 10.0,  # tenths of pixels
                [0.0, 0.0, math.log(height0), math.log(diameter0)],
                full_output=True,
                xtol=1e-4,
                maxfev=60,
            )
            base = base0 + x[0] * away + x[1] * side
            height, diameter = math.exp(x[2]), math.exp(x[3])
            filled = ier == 1 and float(np.max(np.abs(info['fvec']))) <= 0.3
            filled = filled and not max(abs(x[0]), abs(x[1])) > 0.3
        except (OverflowError, ValueError):  # a step ran off to sizes exp() cannot hold
            filled = False
        if not filled:  # the outline cannot fill the box: keep the closed form
            height, diameter, base = height0, diameter0, base0
        centre = base + height / 2.0 * n
        loc = Localization(
            base=base,
            centre=centre,
            axis=n.copy(),
            height=height,
            diameter=diameter,
            covariance=self._surface_covariance(
                box, camera, plane, centre, away, diameter, height
            ),
            method=SURFACE,
            plane=plane,
            size_measured=True,
        )
        flag = self._implausible(loc, box, camera)
        if flag:
            loc.flag = flag
            loc.size_measured = False
            loc.covariance = self._prior_covariance(loc.distance, centre)
        return loc

    def base_ratio(self, label: str | None) -> float:
        """Return base radius / widest radius for a class (the size model's, else BASE_RATIO)."""
        return self.base_ratios.get(label or '', BASE_RATIO)

    @staticmethod
    def model_box(camera, base, n, away, height, diameter, ratio) -> np.ndarray:
        """Return the box (x0, y0, x1, y1; detector pixels) of a truncated cone at ``base``."""
        radius = diameter / 2.0 * (ratio + (1.0 - ratio) * _RING_H)  # narrower at the base
        coeffs = np.column_stack([height * _RING_H, radius * _RING_COS, radius * _RING_SIN])
        pts = base + coeffs @ np.stack([n, away, np.cross(n, away)])
        if camera.distorted:
            uv = camera.project(pts)
        else:
            uv = np.stack(
                [
                    camera.fx * pts[:, 0] / pts[:, 2] + camera.cx,
                    camera.fy * pts[:, 1] / pts[:, 2] + camera.cy,
                ],
                axis=1,
            )
        uv = uv + 0.5  # index -> continuous pixel coordinates
        return np.array([uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()])

    @staticmethod
    def _closed_form(box, camera, plane, ratio):
        """Intersect the box's edge rays with the plane: (base, height, diameter, away) or None."""
        n = plane.normal
        x0, y0, x1, y1 = box.xyxy()
        u_mid = box.cx - 0.5
        ray_b, ray_t, ray_l, ray_r = camera.rays(
            [u_mid, u_mid, x0 - 0.5, x1 - 0.5], [y1 - 0.5, y0 - 0.5, box.cy - 0.5, box.cy - 0.5]
        )
        denom = float(n @ ray_b)
        hit = -plane.d / denom if abs(denom) > 1e-9 else -1.0
        if hit <= 0:
            return None
        front = ray_b * hit
        away = _unit(front - (front @ n) * n)  # along the surface, away from the camera
        cos_lr = float(_unit(ray_l) @ _unit(ray_r))
        half_angle = math.acos(max(-1.0, min(1.0, cos_lr))) / 2.0
        diameter = 2.0 * float(np.linalg.norm(front)) * math.sin(half_angle)
        height, base = 0.0, front
        for _ in range(3):
            base = front + ratio * diameter / 2.0 * away
            # the far rim seen from above, the near one from below the rim
            rim_side = 1.0 if height < plane.d else -1.0
            foot = base + rim_side * diameter / 2.0 * away
            (_, height), *_ = np.linalg.lstsq(np.stack([ray_t, -n], axis=1), foot, rcond=None)
            height = float(height)
            diameter = 2.0 * float(np.linalg.norm(base + height / 2.0 * n)) * math.sin(half_angle)
        return base, max(height, 0.005), max(diameter, 0.005), away

    def from_prior(
        self,
        box: Box,
        camera: Intrinsics,
        label: str | None,
        why: str,
        plane: Plane | None = None,
    ) -> Localization:
        """Place the glass by a class size prior along the ray through the box centre."""
        height = PRIOR_HEIGHT.get(label or '', DEFAULT_PRIOR_HEIGHT)
        ray = camera.rays([box.cx - 0.5], [box.cy - 0.5])[0]
        distance = camera.fy * height / max(box.h, 1.0)
        centre = _unit(ray) * distance
        up = -np.array([0.0, 1.0, 0.0]) if plane is None else plane.normal.copy()
        diameter = height * box.w / max(box.h, 1.0)
        return Localization(
            base=centre - height / 2.0 * up,
            centre=centre,
            axis=up,
            height=height,
            diameter=diameter,
            covariance=self._prior_covariance(distance, centre),
            method=SIZE_PRIOR,
            flag=why,
            plane=plane,
        )

    # ---- uncertainty and checks -------------------------------------------------------------
    @staticmethod
    def _prior_covariance(distance: float, centre: np.ndarray) -> np.ndarray:
        """Return a covariance a quarter of the distance wide along the ray, a tenth across."""
        ray = _unit(centre)
        along, across = (0.25 * distance) ** 2, (0.1 * distance + 0.02) ** 2
        return across * np.eye(3) + (along - across) * np.outer(ray, ray)

    @staticmethod
    def _surface_covariance(box, camera, plane, centre, away, diameter, height) -> np.ndarray:
        """
        Return the centre's covariance from the error sources of the surface method.

        Along the surface away from the camera: the base radius model (a fifth of the radius),
        the diameter's relative error, a pixel and a half on the bottom edge magnified by the
        grazing view of the surface, and the depth noise of the plane; across: a pixel and a half
        and the box's asymmetry (a handle); along the normal: the plane's residuals and half the
        height's error (the centre is at mid-height). The relative size errors are what
        glass-fit-sizes measured on validation scenes; the whole is scaled by COVARIANCE_SCALE.
        """
        distance = float(np.linalg.norm(centre))
        view = _unit(centre)
        grazing = max(abs(float(view @ plane.normal)), 0.15)
        pixel = 1.5 * distance / camera.fy
        plane_sigma = plane.rms / math.sqrt(max(plane.inliers, 1)) + depth_sigma(distance)
        radius = BASE_RATIO * diameter / 2.0
        s_away = math.sqrt(
            (0.2 * radius) ** 2
            + (SIZE_REL_SIGMA * radius) ** 2
            + (pixel / grazing) ** 2
            + (plane_sigma / grazing) ** 2
            + 0.002**2
        )
        s_side = math.sqrt(pixel**2 + (0.25 * diameter / 2.0) ** 2 + 0.002**2)
        s_up = math.sqrt(plane.rms**2 + (SIZE_REL_SIGMA * height / 2.0) ** 2 + 0.002**2)
        side = _unit(np.cross(plane.normal, away))
        basis = np.stack([away, side, plane.normal], axis=1)
        cov = basis @ np.diag([s_away**2, s_side**2, s_up**2]) @ basis.T
        return COVARIANCE_SCALE * cov

    @staticmethod
    def _implausible(loc: Localization, box: Box, camera: Intrinsics) -> str:
        """Say why an upright-on-the-surface estimate cannot be right ('' when it can)."""
        x0, y0, x1, y1 = box.xyxy()
        if y1 >= camera.height - 1.0:
            return 'the box is cut by the bottom of the image: base unseen'
        if y0 <= 1.0:
            return 'the box is cut by the top of the image: height unseen'
        if not HEIGHT_RANGE[0] <= loc.height <= HEIGHT_RANGE[1]:
            return (
                f'height {loc.height * 100:.1f} cm is not that of a glass standing on the '
                'surface (held, lying down, or on something unseen?)'
            )
        if not DIAMETER_RANGE[0] <= loc.diameter <= DIAMETER_RANGE[1]:
            return f'diameter {loc.diameter * 100:.1f} cm is not that of a glass'
        aspect = loc.height / max(loc.diameter, 1e-6)
        if not ASPECT_RANGE[0] <= aspect <= ASPECT_RANGE[1]:
            return f'height/diameter {aspect:.2f}: lying down?'
        return ''


def naive_centre(box: Box, depth: np.ndarray, camera: Intrinsics) -> np.ndarray | None:
    """
    Locate as the usual ROS YOLO-3D method does: median depth in the box, at the centre's ray.

    What mgonzs13/yolo_ros's detect_3d_node does (in spirit); None when no depth is valid in
    the box. Reported beside the localizer's figures as the reference.
    """
    h, w = depth.shape
    x0, y0, x1, y1 = box.xyxy()
    ix0, ix1 = int(max(0, math.floor(x0))), int(min(w, math.ceil(x1)))
    iy0, iy1 = int(max(0, math.floor(y0))), int(min(h, math.ceil(y1)))
    patch = depth[iy0:iy1, ix0:ix1]
    valid = patch[np.isfinite(patch)]
    if valid.size == 0:
        return None
    z = float(np.median(valid))
    return camera.rays([box.cx - 0.5], [box.cy - 0.5])[0] * z


@dataclass
class Glass3D:
    """One classified glass in 3D: what the localizer node publishes for it."""

    det_id: str  # the Detection2D id, carried to the Detection3D
    box: Box
    localization: Localization
    crop: list[tuple[str, float]]  # the classifier's probabilities, best first (appearance)
    fused: list[tuple[str, float]]  # with the size evidence, best first (= crop without it)
    fragile_score: float
    fragile: bool


def localize_frame(
    localizer: Localizer,
    detections: list[tuple[str, Box, list[tuple[str, float]]]],
    depth: np.ndarray,
    camera: Intrinsics,
    sizes=None,
    fragile_classes=('beer_glass', 'soju_glass'),
    fragile_threshold: float = 0.3,
    tracks=None,
    stamp_s: float = 0.0,
    camera_pose=None,
) -> list[Glass3D]:
    """
    Localise every (id, box, ranked crop probabilities) of a frame and fuse its label.

    ``sizes`` is a core.sizes.SizeModel, or None for no fusion. Sizes are fused only when they
    were measured on the surface (not from the prior, not flagged). ``tracks`` (a
    core.temporal.TrackSmoothing) smooths each tracked glass over its frames, stamped
    ``stamp_s``: position and covariance, averaged in the fixed frame ``camera_pose`` (4x4,
    p_camera = camera_pose @ p_fixed; None: unknown) places the camera in, height and diameter
    (then fused), fragile latched.
    """
    boxes = [b for _, b, _ in detections]
    located = []
    for i, (det_id, box, ranked) in enumerate(detections):
        label = ranked[0][0] if ranked else None
        loc = localizer.locate(box, depth, camera, label, boxes[:i] + boxes[i + 1:])
        if sizes is not None and loc.size_measured and sizes.implausible(loc.height, loc.diameter):
            loc.flag = (
                f'a glass {loc.height * 100:.0f} cm tall and {loc.diameter * 100:.0f} cm wide '
                'fits no class: lying down, held above the surface, or not standing on it?'
            )
            loc.size_measured = False
            loc.covariance = Localizer._prior_covariance(loc.distance, loc.centre)
        located.append((det_id, loc))
    if tracks is not None:
        tracks.smooth_frame(stamp_s, camera_pose, located)
    out = []
    for (det_id, box, ranked), (_, loc) in zip(detections, located):
        names = [c for c, _ in ranked]
        probs = [p for _, p in ranked]
        fused = ranked
        if sizes is not None and loc.size_measured and ranked:
            post = sizes.fuse(names, probs, loc.height, loc.diameter)
            fused = sorted(zip(names, (float(p) for p in post)), key=lambda cp: -cp[1])
        score = float(sum(p for c, p in fused if c in fragile_classes))
        fragile = score >= fragile_threshold
        if tracks is not None:
            fragile = tracks.fragile(det_id, stamp_s, fragile)
        out.append(Glass3D(det_id, box, loc, list(ranked), fused, score, fragile))
    if tracks is not None:
        tracks.expire(stamp_s)
    return out
