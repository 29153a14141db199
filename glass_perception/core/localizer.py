"""
Where a glass stands, in metres, from its 2D box and a depth image that cannot see glass.

An RGB-D camera reports the surface *behind* transparent glass, noisy and with holes, so the depth
on the glass itself is never used. What it sees well is the support surface around the glass:

1. valid depth around the object's footprint (beside and below the box, outside every box) is
   back-projected and a plane is fitted to it robustly (RANSAC, then a least-squares refit on the
   inliers; refitted with a tighter threshold when its residuals are wider than the sensor's
   noise, the mark of a plane tilted across two levels);
2. **the support under the glass, found locally.** A tray, board, coaster, plate or shelf can
   raise the glass above that dominant plane. The heights of the surface points within 6 cm of
   the plane are binned (bins one depth tolerance wide): every bin with enough points, mostly
   near the glass's foot in the image, is a candidate support, refitted as a plane to its own
   points.
   With two candidates or more, each is scored by where the glass's foot would be on it: how
   many of the points in a ring 3-20 mm around that foot lie on that candidate (on the right
   support the ring is the support, and its front is in view; on a wrong one the foot lands
   elsewhere: its ring is at another height, or hidden behind the glass). The best one is the
   support. When a second one scores at least half as well and standing on it would move the
   glass by more than the covariance's 95% ellipsoid allows, the estimate is *flagged* with both
   heights, and the covariance widened to cover both positions;
3. the ray through the middle of the box's bottom edge meets the support at the nearest point of
   the glass's base; the base centre lies one base radius further, along the surface, away from
   the camera; the ray through the top edge passes the far rim: the height is where the axis,
   raised along the support's normal, comes closest to it; the diameter is the box's angular width
   at the axis's distance (iterated, since each needs the other's radius). That closed form starts
   the fit for views up to 60 degrees above the support;
4. **steep views** (a wrist camera looking down, up to straight down): the box's bottom edge is
   then the near side of the *rim*, not the base, and the base is hidden under the rim's ellipse.
   There the start is the ray through the box's centre meeting the support raised by half the
   class's typical height;
5. from either start, the outline of an upright truncated cone standing on the support, projected
   through the camera, is fitted to the box (scipy's leastsq, MINPACK's Levenberg-Marquardt;
   4 unknowns, the base's two coordinates on the support, log height and log diameter, against
   the 4 box edges in units of 2 pixels). Up to 60 degrees the box alone is fitted first, and
   kept when it fixes the height; otherwise, and always above 60 degrees (where the box alone has
   several solutions), with a weak prior on the height (the class's typical height, sigma 0.35 in
   log). Seen from the side the box fixes the height; seen from above the rim's ellipse fixes the
   position and the diameter but hardly the height (the base ring projects inside the rim's), and
   the prior keeps it plausible. The fit's own uncertainty of the log height (from its Jacobian)
   says which happened: when the box did not measure the height (sigma 0.175 or more),
   ``size_measured`` is False (no size evidence for the classifier) and the height's uncertainty
   enters the covariance, but a steep, valid view is not flagged. The model takes the perspective
   slant of a tall glass off the image centre and the base's own radius (the class's base/rim
   ratio, learnt with the size model) into account.

**A hidden foot.** Seen from the side, an opaque object standing in front of the glass (a mug
before a pint) can hide its foot: the box then ends on that object's top and the base would be
placed too far away. Just below a visible foot the depth is the support; just below a hidden one
it is the object in front, well nearer: with ``LocalizerConfig.check_hidden_foot`` the estimate
is then *flagged* (``foot_hidden``). The check is off by default: in side views it also flags
glasses whose foot is in view (the model card, "A hidden foot", has the figures).

**Assumption:** the glass stands upright on the support found. When it does not (a glass held in
a gripper, lying on its side, standing on something the depth does not show, or cut by the image
border), the measured size is implausible for glassware or the outline cannot fill the box; the
estimate is then *flagged* (``Localization.flag`` says why) and its covariance widened to that of
the size prior, never silently reported as precise. When no surface can be fitted (too few valid
points, no dominant plane), the position comes from a class size prior: the box's height in pixels
and the class's typical height give the distance along the ray through the box centre, with a
covariance a quarter of the distance wide.

Results are in the camera's optical frame (x right, y down, z forward). No ROS here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math

import numpy as np
from scipy.optimize import leastsq
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
#: the fit's weak prior on the height: sigma of log(height / the class's typical height)
PRIOR_LOG_SIGMA = 0.35
#: the box measured the height when the fit's sigma of log height is below this
MEASURED_LOG_SIGMA = 0.175
#: the box edges' sigma in the fit (pixels): a detector's box is good to a pixel or two
EDGE_SIGMA_PX = 2.0
#: above this elevation (degrees between the view of the glass and its support) the fit starts
#: from the box centre's ray, not from the bottom edge's (module docstring, step 4)
STEEP_DEG = 60.0
#: depth this much in front of the support just below a glass's foot: the foot is hidden (m)
HIDDEN_FOOT_M = 0.03
#: a support candidate that scores at least this share of the best one's is 'plausible'
PLAUSIBLE_SHARE = 0.5
#: supports are looked for within this height of the dominant plane (m): trays, boards,
#: coasters and plates are 3-40 mm; points higher than this beside a glass are other objects
MAX_SUPPORT_M = 0.06


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
    #: flag a glass whose foot an object in front may hide (foot_hidden); off: on held-out
    #: classic views it flagged 13.5% of the detected glasses at 15-35 degrees (model card)
    check_hidden_foot: bool = False


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
        away = _horizontal(self.centre, self.axis)
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


def _refit(points: np.ndarray, plane: Plane) -> Plane:
    """
    Return the least-squares plane of ``points`` (a slab found parallel to ``plane``).

    Kept parallel (``plane`` itself) when the fit tilts more than 10 degrees from it: too few or
    too scattered points to say.
    """
    centre = points.mean(axis=0)
    normal = np.linalg.svd(points - centre, full_matrices=False)[2][2]
    normal = normal if normal @ plane.normal > 0 else -normal
    if float(normal @ plane.normal) < math.cos(math.radians(10.0)):
        return plane
    d = -float(normal @ centre)
    rms = float(np.sqrt(np.mean((points @ normal + d) ** 2)))
    return Plane(normal, d, len(points), plane.points, rms)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def _horizontal(p: np.ndarray, n: np.ndarray) -> np.ndarray:
    """
    Return the unit direction along the surface (normal ``n``) from below the camera towards ``p``.

    Straight below the camera it has none: the image's down direction along the surface then.
    """
    along = p - (p @ n) * n
    if float(np.linalg.norm(along)) < 1e-6:
        along = np.array([0.0, 1.0, 0.0]) - n[1] * n
    return _unit(along)


def foot_hidden(box: Box, depth: np.ndarray, camera: Intrinsics, plane: Plane) -> str:
    """
    Say why the box's bottom edge may not be the glass's foot ('' when nothing hides it).

    Seen from the side (at most STEEP_DEG above the support), an opaque object standing in front
    of the glass can hide its foot: the box then ends on that object's top, and the foot's ray
    meets the support too far away (a pint behind a mug: 10 cm). Just below a visible foot the
    depth is the support in front of it; just below a hidden one it is the object in front, well
    nearer (``HIDDEN_FOOT_M``, or four times the sensor's noise): the middle half of the bottom
    edge is looked at, a few rows down. A transparent glass in front hides nothing (the depth
    sees through it). Steeper, the bottom edge is the rim's near side.
    """
    if view_elevation(box, camera, plane) > STEEP_DEG:
        return ''
    h, w = depth.shape
    y1 = box.xyxy()[3]
    iu0 = int(max(0, math.floor(box.cx - 0.25 * box.w)))
    iu1 = int(min(w, math.ceil(box.cx + 0.25 * box.w)))
    iv0 = int(min(h, math.ceil(y1) + 1))
    iv1 = int(min(h, iv0 + max(3, math.ceil(0.05 * box.h))))
    if iu1 <= iu0 or iv1 <= iv0:
        return ''
    vs, us = np.mgrid[iv0:iv1, iu0:iu1]
    z = depth[iv0:iv1, iu0:iu1].ravel().astype(np.float64)
    rays = camera.rays(us.ravel(), vs.ravel())  # index coordinates, z = 1
    along = rays @ plane.normal
    ok = np.isfinite(z) & (z > 0) & (np.abs(along) > 1e-6)
    support = np.full(z.shape, np.nan)
    support[ok] = -plane.d / along[ok]  # the support's depth on each pixel's ray
    ok &= support > 0
    if ok.sum() < 5:
        return ''
    nearer = float(np.median(support[ok] - z[ok]))
    if nearer > max(HIDDEN_FOOT_M, 4.0 * depth_sigma(float(np.median(support[ok])))):
        return (
            f'the foot may be hidden: something stands {nearer * 100:.0f} cm in front of it '
            '(the box ends on it)'
        )
    return ''


def view_elevation(box: Box, camera: Intrinsics, plane: Plane) -> float:
    """Return the angle (degrees) between the ray through the box's centre and the plane."""
    ray = _unit(camera.rays([box.cx - 0.5], [box.cy - 0.5])[0])
    return math.degrees(math.asin(min(1.0, abs(float(ray @ plane.normal)))))


class Localizer:
    """Turn boxes and a depth image into upright glasses standing on a surface."""

    def __init__(self, config: LocalizerConfig | None = None, base_ratios: dict | None = None):
        self.config = config or LocalizerConfig()
        self.base_ratios = dict(base_ratios or {})

    # ---- the support surface ------------------------------------------------------------
    def surface_points(
        self,
        box: Box,
        depth: np.ndarray,
        camera: Intrinsics,
        others: list[Box],
        with_pixels: bool = False,
        near: bool = False,
    ):
        """
        Return valid depth points (N, 3) around the footprint of ``box``, outside all boxes.

        With ``with_pixels``, also their pixel coordinates (N, 2; pixel centres). ``near``: from
        just around the foot (half a box width beside it, a third of its height below), for the
        ring test of the supports; else from beside and below the box, for the plane fit.
        """
        h, w = depth.shape
        x0, y0, x1, y1 = box.xyxy()
        if near:
            margin_x, top, below = 0.5 * box.w + 6.0, 0.6 * box.h, 0.3 * box.h + 8.0
        else:
            margin_x, top, below = 1.5 * box.w + 10.0, 0.5 * box.h, 0.5 * box.h + 12.0
        rx0, rx1 = int(max(0, x0 - margin_x)), int(min(w, x1 + margin_x))
        ry0, ry1 = int(max(0, y1 - top)), int(min(h, y1 + below))
        if rx1 - rx0 < 2 or ry1 - ry0 < 2:
            return (np.zeros((0, 3)), np.zeros((0, 2))) if with_pixels else np.zeros((0, 3))
        patch = depth[ry0:ry1, rx0:rx1]
        keep = np.isfinite(patch)
        for b in [box, *others]:
            bx0, by0, bx1, by1 = b.xyxy()
            ix0, ix1 = int(max(bx0 - 3 - rx0, 0)), int(min(bx1 + 3 - rx0, rx1 - rx0))
            iy0, iy1 = int(max(by0 - 3 - ry0, 0)), int(min(by1 + 3 - ry0, ry1 - ry0))
            if ix1 > ix0 and iy1 > iy0:
                keep[iy0:iy1, ix0:ix1] = False
        vs, us = np.nonzero(keep)
        most = self.config.max_points * (4 if near else 1)
        if len(us) > most:  # an even, deterministic subsample
            pick = np.linspace(0, len(us) - 1, most).astype(int)
            vs, us = vs[pick], us[pick]
        z = patch[vs, us].astype(np.float64)
        rays = camera.rays(us + rx0, vs + ry0)
        if with_pixels:
            return rays * z[:, None], np.column_stack([us + rx0 + 0.5, vs + ry0 + 0.5])
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
        loc = self._locate(box, depth, camera, label, others or [])
        if loc.method == SURFACE and not loc.flag and self.config.check_hidden_foot:
            why = foot_hidden(box, depth, camera, loc.plane)
            if why:
                loc.flag = why
                loc.size_measured = False
                loc.covariance = self._prior_covariance(loc.distance, loc.centre)
        return loc

    def _locate(self, box, depth, camera, label, others) -> Localization:
        """Localise on the support found (module docstring, steps 1-5)."""
        points, uv = self.surface_points(box, depth, camera, others, with_pixels=True)
        plane = None
        if len(points) >= self.config.min_surface_points:
            expected = depth_sigma(float(np.median(points[:, 2])))
            plane = fit_plane(points, max(0.006, 3.0 * expected), self.config)
            if plane is not None and plane.rms > max(0.002, 1.3 * expected):
                # residuals wider than the sensor's noise: a plane tilted across two levels (a
                # board's edge) can hold more points than either; a tighter fit finds one
                plane = fit_plane(points, max(0.003, 2.0 * expected), self.config) or plane
        if plane is None:
            return self.from_prior(box, camera, label, 'no support surface found around the box')
        tolerance = max(0.004, 3.0 * expected)
        scored = self.supports(
            box, camera, plane, points, uv, tolerance, label,
            lambda: self.surface_points(box, depth, camera, others, near=True),
        )  # fmt: skip
        best = self.on_surface(box, camera, scored[0][0], label)
        if len(scored) < 2 or scored[1][1] < PLAUSIBLE_SHARE * scored[0][1]:
            return best
        other = self.on_surface(box, camera, scored[1][0], label)
        if best.flag or other.flag:  # an upright glass fits on one of them only (or neither)
            return other if best.flag and not other.flag else best
        delta = other.centre - best.centre
        if float(delta @ np.linalg.solve(best.covariance, delta)) <= 7.815:  # within its 95 %
            return best
        above = [(plane.d - p.d) * 100.0 + 0.0 for p, _ in scored[:2]]  # no -0.0
        best.flag = (
            f'two supports plausible, {above[0]:.1f} and {above[1]:.1f} cm above the surrounding '
            f'surface: the glass may stand {np.linalg.norm(delta) * 100.0:.1f} cm from here'
        )
        best.covariance = best.covariance + np.outer(delta, delta)
        best.size_measured = False
        return best

    def supports(
        self,
        box: Box,
        camera: Intrinsics,
        plane: Plane,
        points: np.ndarray,
        uv: np.ndarray,
        tolerance: float,
        label: str | None = None,
        near_points=None,
    ) -> list[tuple[Plane, float]]:
        """
        Return the candidate supports under the glass with their scores, best first.

        Candidates: the dominant plane and every slab of heights within MAX_SUPPORT_M above or
        below it (bins of ``tolerance``) holding at least 15 points. A slab is a candidate when
        the points within ``tolerance`` of it, each weighted by its closeness in the image
        (``uv``, pixels) to the middle of the box's bottom edge (a half at a quarter of the box's
        width), make at least a tenth of the weight; that weighted share is its score. Each is a
        plane parallel to ``plane`` at its height, refitted to its own points (``_refit``).

        With two candidates or more and ``near_points`` (a function returning surface_points'
        ``near`` set, called only then), each is scored instead by how many of the points in the
        ring just around the foot the glass would have on it (``_foot_ring``) lie on it, as a
        share of all the near points: a foot that lands where the glass itself hides the ring, or
        where the ring is at another height, scores low.
        """
        heights = points @ plane.normal + plane.d
        x0, y0, x1, y1 = box.xyxy()
        du = (uv[:, 0] - box.cx) / max(box.w, 1.0)
        dv = (uv[:, 1] - y1) / max(box.w, 1.0)
        weight = 1.0 / (1.0 + 16.0 * (du**2 + dv**2))  # a half at a quarter box width
        total = max(float(weight.sum()), 1e-9)
        levels = [0.0]
        edges = np.arange(-MAX_SUPPORT_M, MAX_SUPPORT_M + tolerance, tolerance)
        counts, _ = np.histogram(heights, edges)
        for k in np.argsort(-counts)[:5]:
            if counts[k] < 15:
                break
            centre = 0.5 * (edges[k] + edges[k + 1])
            members = np.abs(heights - centre) <= tolerance
            level = float(np.median(heights[members]))
            near = float(weight[np.abs(heights - level) <= tolerance].sum()) / total
            if near >= 0.1 and all(abs(level - other) > tolerance for other in levels):
                levels.append(level)
        near = near_points() if near_points is not None and len(levels) > 1 else None
        scored = []
        for level in levels:
            on = np.abs(heights - level) <= tolerance
            inliers = int(on.sum())
            rms = float(np.sqrt(np.mean((heights[on] - level) ** 2))) if inliers else plane.rms
            candidate = plane if level == 0.0 else Plane(
                plane.normal, plane.d - level, inliers, plane.points, rms
            )
            if level != 0.0 and inliers >= self.config.min_surface_points:
                candidate = _refit(points[on], candidate)
            score = float(weight[on].sum()) / total
            if near is not None and len(near):  # the ring around the foot
                ring = self._foot_ring(box, camera, candidate, near, label)
                near_heights = near[ring] @ plane.normal + plane.d
                score = float(np.sum(np.abs(near_heights - level) <= tolerance)) / len(near)
            scored.append((candidate, score))
        scored.sort(key=lambda cs: -cs[1])
        return scored

    def _foot_ring(self, box, camera, plane, points, label) -> np.ndarray:
        """
        Return which points lie 3-20 mm beyond the glass's foot, were it standing on ``plane``.

        Horizontal distance from the axis of the start of the fit (module docstring, steps 3-4).
        On the support the glass stands on, that ring is the support; on a wrong one, the foot
        lands elsewhere and its ring is at another height.
        """
        first, _ = self._start(box, camera, plane, label, view_elevation(box, camera, plane))
        if first is None:
            return np.zeros(len(points), bool)
        base, _, diameter, _ = first
        q = points - base
        rho = np.linalg.norm(q - np.outer(q @ plane.normal, plane.normal), axis=1)
        foot = self.base_ratio(label) * diameter / 2.0
        return (rho >= foot + 0.003) & (rho <= foot + 0.02)

    def on_surface(
        self, box: Box, camera: Intrinsics, plane: Plane, label: str | None = None
    ) -> Localization:
        """Fit an upright glass standing on ``plane`` to the box (module docstring, steps 3-5)."""
        ratio = self.base_ratio(label)
        typical = PRIOR_HEIGHT.get(label or '', DEFAULT_PRIOR_HEIGHT)
        elevation = view_elevation(box, camera, plane)
        first, guessed = self._start(box, camera, plane, label, elevation)
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
            return self.model_box(
                camera, base, n, away, math.exp(p[2]), math.exp(p[3]), ratio, side
            )

        def edges(p):
            return (model(p) - observed) / EDGE_SIGMA_PX

        def with_prior(p):
            return np.append(edges(p), (p[2] - math.log(typical)) / PRIOR_LOG_SIGMA)

        log_h_sigma, filled = PRIOR_LOG_SIGMA, False
        start = [0.0, 0.0, math.log(height0), math.log(diameter0)]
        try:
            # the box alone first (4 edges, 4 unknowns); the prior only where it left the height
            # open, so that a measured height owes nothing to the class's typical one. From
            # steeply above, the box alone has several solutions (rim or base ring on each
            # edge): the prior at once
            for fun in (edges, with_prior) if elevation <= STEEP_DEG else (with_prior,):
                x, cov, info, _, ier = leastsq(fun, start, full_output=True, xtol=1e-4, maxfev=80)
                filled = ier in (1, 2, 3, 4) and bool(np.all(np.isfinite(info['fvec'])))
                filled = filled and float(np.max(np.abs(info['fvec'][:4]))) * EDGE_SIGMA_PX <= 3.0
                filled = filled and not max(abs(x[0]), abs(x[1])) > 0.3
                # the fit's own uncertainty of log height (cov: the inverse of J'J; None when
                # singular): did the box or the prior set it?
                log_h_sigma = math.sqrt(max(cov[2, 2], 0.0)) if cov is not None else math.inf
                if filled and log_h_sigma < MEASURED_LOG_SIGMA:
                    break
            base = base0 + x[0] * away + x[1] * side
            height, diameter = math.exp(x[2]), math.exp(x[3])
        except (OverflowError, ValueError, np.linalg.LinAlgError):  # sizes exp() cannot hold
            filled = False
        if not filled:  # the outline cannot fill the box: keep the start
            height, diameter, base = height0, diameter0, base0
        measured = log_h_sigma < MEASURED_LOG_SIGMA
        centre = base + height / 2.0 * n
        loc = Localization(
            base=base,
            centre=centre,
            axis=n.copy(),
            height=height,
            diameter=diameter,
            covariance=self._surface_covariance(
                box, camera, plane, centre, away, diameter, height,
                max(SIZE_REL_SIGMA, min(log_h_sigma if filled else 1.0, PRIOR_LOG_SIGMA)),
            ),
            method=SURFACE,
            plane=plane,
            size_measured=measured,
        )  # fmt: skip
        flag = self._implausible(loc, box, camera)
        if not flag and not filled and guessed:  # the start was a guess, and it stayed one
            flag = 'the outline of a glass standing on the surface cannot fill the box'
        if flag:
            loc.flag = flag
            loc.size_measured = False
            loc.covariance = self._prior_covariance(loc.distance, centre)
        return loc

    def _start(self, box, camera, plane, label, elevation):
        """
        Return ((base, height, diameter, away) or None, whether it is a guess) to fit from.

        The closed form up to STEEP_DEG (module docstring, step 3); above it, or when the closed
        form gives no plausible height, the box centre's ray (step 4): a guess of the height.
        """
        ratio = self.base_ratio(label)
        first = None if elevation > STEEP_DEG else self._closed_form(box, camera, plane, ratio)
        guessed = first is None or not HEIGHT_RANGE[0] <= first[1] <= HEIGHT_RANGE[1]
        if guessed:
            typical = PRIOR_HEIGHT.get(label or '', DEFAULT_PRIOR_HEIGHT)
            first = self._from_above(box, camera, plane, typical) or first
        return first, guessed

    @staticmethod
    def _from_above(box, camera, plane, height):
        """
        Start a steep view's fit: the box centre's ray meets the support raised by half ``height``.

        Returns (base, height, diameter, away) or None when the ray misses the support.
        """
        n = plane.normal
        ray = camera.rays([box.cx - 0.5], [box.cy - 0.5])[0]
        denom = float(n @ ray)
        if abs(denom) < 1e-9:
            return None
        t = -(plane.d - height / 2.0) / denom  # n.p + d = height / 2
        if t <= 0:
            return None
        centre = ray * t
        base = centre - height / 2.0 * n
        x0, _, x1, _ = box.xyxy()
        ray_l, ray_r = camera.rays([x0 - 0.5, x1 - 0.5], [box.cy - 0.5, box.cy - 0.5])
        half_angle = math.acos(max(-1.0, min(1.0, float(_unit(ray_l) @ _unit(ray_r))))) / 2.0
        diameter = 2.0 * (float(np.linalg.norm(centre)) - height / 2.0) * math.sin(half_angle)
        return base, height, max(diameter, 0.005), _horizontal(base, n)

    def base_ratio(self, label: str | None) -> float:
        """Return base radius / widest radius for a class (the size model's, else BASE_RATIO)."""
        return self.base_ratios.get(label or '', BASE_RATIO)

    @staticmethod
    def model_box(camera, base, n, away, height, diameter, ratio, side=None) -> np.ndarray:
        """
        Return the box (x0, y0, x1, y1; detector pixels) of a truncated cone at ``base``.

        ``side``: n x away, when the caller has it.
        """
        side = np.cross(n, away) if side is None else side
        radius = diameter / 2.0 * (ratio + (1.0 - ratio) * _RING_H)  # narrower at the base
        pts = (
            base
            + (height * _RING_H)[:, None] * n
            + (radius * _RING_COS)[:, None] * away
            + (radius * _RING_SIN)[:, None] * side
        )
        if camera.distorted:
            uv = camera.project(pts) + 0.5  # index -> continuous pixel coordinates
            u, v = uv[:, 0], uv[:, 1]
        else:
            u = camera.fx * pts[:, 0] / pts[:, 2] + (camera.cx + 0.5)
            v = camera.fy * pts[:, 1] / pts[:, 2] + (camera.cy + 0.5)
        return np.array([u.min(), v.min(), u.max(), v.max()])

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
        away = _horizontal(front, n)  # along the surface, away from the camera
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
    def _surface_covariance(
        box, camera, plane, centre, away, diameter, height, height_sigma=SIZE_REL_SIGMA
    ) -> np.ndarray:
        """
        Return the centre's covariance from the error sources of the surface method.

        Along the surface away from the camera: the base radius model (a fifth of the radius),
        the diameter's relative error, a pixel and a half on the bottom edge magnified by the
        grazing view of the surface, and the depth noise of the plane; across: a pixel and a half
        and the box's asymmetry (a handle); along the normal: the plane's residuals and half the
        height's error (the centre is at mid-height). The relative size errors are what
        glass-fit-sizes measured on validation scenes; the whole is scaled by COVARIANCE_SCALE.
        ``height_sigma`` is the height's relative error: larger when the box did not measure it
        (a view from above), when it also moves the base along the view (the rim, not the base,
        is what fixes the position then).
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
            + (max(height_sigma - SIZE_REL_SIGMA, 0.0) * height) ** 2
            * (1.0 - grazing**2)
            / grazing**2
        )
        s_side = math.sqrt(pixel**2 + (0.25 * diameter / 2.0) ** 2 + 0.002**2)
        s_up = math.sqrt(plane.rms**2 + (height_sigma * height / 2.0) ** 2 + 0.002**2)
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
