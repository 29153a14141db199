"""glass_perception.core.localizer: plane fit, ray casting, the upright-glass model, fallbacks."""

import math

from glass_perception.core.camera_model import Intrinsics
from glass_perception.core.geometry import Box
from glass_perception.core.localizer import (
    fit_plane,
    localize_frame,
    Localizer,
    LocalizerConfig,
    naive_centre,
    SIZE_PRIOR,
    SURFACE,
)
import numpy as np
import pytest

CAMERA = Intrinsics.from_k(640, 480, [606.0, 0, 319.5, 0, 606.0, 239.5, 0, 0, 1])


def table(down_deg: float, height: float):
    """Return (normal, d) of a table seen by a camera ``height`` m above it, looking down."""
    a = math.radians(down_deg)
    normal = np.array([0.0, -math.cos(a), -math.sin(a)])  # up, in the optical frame
    return normal, height


def plane_depth(normal, d, camera=CAMERA, noise=0.0, seed=0):
    """Return the depth image (m) of an endless plane n.p + d = 0, NaN where it is not seen."""
    v, u = np.mgrid[0:camera.height, 0:camera.width]
    rays = camera.rays(u.ravel(), v.ravel())
    t = -d / (rays @ normal)
    z = np.where(t > 0, t, np.nan).reshape(camera.height, camera.width)
    if noise:
        z = z + np.random.default_rng(seed).normal(0, noise, z.shape)
    return z.astype(np.float32)


def glass_on(normal, d, at_uv, height, diameter, ratio=0.8):
    """Return (base, box) of an upright cone standing where pixel ``at_uv`` meets the table."""
    ray = CAMERA.rays([at_uv[0]], [at_uv[1]])[0]
    base = ray * (-d / (ray @ normal))
    away = base - (base @ normal) * normal
    away /= np.linalg.norm(away)
    box = Localizer.model_box(CAMERA, base, normal, away, height, diameter, ratio)
    return base, Box.from_xyxy(*box)


def test_plane_fit_finds_the_plane_among_outliers():
    normal, d = table(35, 0.6)
    depth = plane_depth(normal, d, noise=0.002)
    v, u = np.mgrid[300:480:6, 0:640:6]
    pts = CAMERA.rays(u.ravel(), v.ravel()) * depth[v, u].ravel()[:, None]
    rng = np.random.default_rng(1)
    outliers = rng.uniform([-0.5, -0.5, 0.3], [0.5, 0.5, 1.5], (len(pts) // 3, 3))
    plane = fit_plane(np.concatenate([pts, outliers]), 0.006, LocalizerConfig())
    assert plane is not None
    assert np.degrees(np.arccos(abs(plane.normal @ normal))) < 1.0
    assert plane.d == pytest.approx(d, abs=0.003)
    assert plane.d > 0 and plane.normal @ normal > 0  # oriented towards the camera


def test_plane_fit_agrees_with_scikit_learn_ransac():
    from sklearn.linear_model import RANSACRegressor

    normal, d = table(45, 0.5)
    depth = plane_depth(normal, d, noise=0.002, seed=3)
    v, u = np.mgrid[320:480:5, 100:540:5]
    pts = CAMERA.rays(u.ravel(), v.ravel()) * depth[v, u].ravel()[:, None]
    pts = np.concatenate([pts, np.random.default_rng(2).uniform(0.2, 1.0, (200, 3))])
    ours = fit_plane(pts, 0.006, LocalizerConfig())
    # theirs: y (down) as a function of x and z, which a 45-degree table allows
    theirs = RANSACRegressor(residual_threshold=0.006, random_state=0).fit(
        pts[:, [0, 2]], pts[:, 1]
    )
    a, c = theirs.estimator_.coef_
    n_sk = np.array([a, -1.0, c])
    n_sk /= np.linalg.norm(n_sk)
    assert abs(abs(n_sk @ ours.normal) - 1) < 1e-3
    assert ours.inliers == pytest.approx(theirs.inlier_mask_.sum(), rel=0.05)


def test_too_few_points_or_no_plane_gives_none():
    config = LocalizerConfig()
    assert fit_plane(np.zeros((5, 3)), 0.006, config) is None
    scattered = np.random.default_rng(0).uniform(-1, 1, (300, 3)) + [0, 0, 2]
    assert fit_plane(scattered, 0.002, config) is None


@pytest.mark.parametrize(
    'down, distance_px, size',
    [
        (25, (420, 300), (0.15, 0.08)),
        (50, (200, 330), (0.06, 0.045)),
        (35, (330, 260), (0.24, 0.075)),
    ],
)
def test_an_upright_glass_is_found_on_the_table_it_stands_on(down, distance_px, size):
    normal, d = table(down, 0.55)
    base, box = glass_on(normal, d, distance_px, *size)
    depth = plane_depth(normal, d, noise=0.001)
    loc = Localizer(base_ratios={'beer_glass': 0.8}).locate(box, depth, CAMERA, 'beer_glass')
    assert loc.method == SURFACE and not loc.flag
    assert np.linalg.norm(loc.base - base) < 0.005
    assert loc.height == pytest.approx(size[0], rel=0.03)
    assert loc.diameter == pytest.approx(size[1], rel=0.05)
    assert np.degrees(np.arccos(loc.axis @ normal)) < 1.0
    # the covariance is a real one, and wider along the view than across
    w = np.linalg.eigvalsh(loc.covariance)
    assert np.all(w > 0) and math.sqrt(w.max()) < 0.05


def test_depth_on_the_glass_itself_is_never_used():
    normal, d = table(35, 0.55)
    base, box = glass_on(normal, d, (320, 300), 0.15, 0.08)
    depth = plane_depth(normal, d)
    x0, y0, x1, y1 = (int(v) for v in box.xyxy())
    clean = Localizer().locate(box, depth.copy(), CAMERA, 'beer_glass')
    depth[y0:y1, x0:x1] = 0.3  # what a glass might report: anything
    dirty = Localizer().locate(box, depth, CAMERA, 'beer_glass')
    assert np.allclose(clean.base, dirty.base, atol=1e-6)


def test_no_surface_falls_back_to_the_size_prior_and_says_so():
    box = Box(320, 240, 40, 80)
    empty = np.full((480, 640), np.nan, np.float32)
    loc = Localizer().locate(box, empty, CAMERA, 'beer_glass')
    assert loc.method == SIZE_PRIOR and 'no support surface' in loc.flag
    assert loc.distance == pytest.approx(606 * 0.17 / 80, rel=0.05)
    assert math.sqrt(np.linalg.eigvalsh(loc.covariance).max()) >= 0.2 * loc.distance
    assert not loc.size_measured


@pytest.fixture(scope='module')
def shipped_sizes():
    from glass_perception.core.paths import DEFAULT_CLASSIFIER
    from glass_perception.core.sizes import SizeModel, sizes_path

    return SizeModel.load(sizes_path(DEFAULT_CLASSIFIER))


@pytest.mark.parametrize(
    'what, box_of',
    [
        # a shot glass held 25 cm up in a gripper whose fingers run up the box
        ('held', lambda box: Box(box.cx, box.cy - 120, box.w, box.h + 240)),
        # a pint lying on its side: wide and low
        ('lying', lambda box: Box(box.cx, box.cy, box.w * 3.2, box.h * 0.55)),
    ],
)
def test_a_glass_not_standing_upright_is_flagged_not_silently_wrong(what, box_of, shipped_sizes):
    normal, d = table(35, 0.55)
    _, box = glass_on(normal, d, (320, 330), 0.06 if what == 'held' else 0.15, 0.05)
    depth = plane_depth(normal, d)
    (g,) = localize_frame(
        Localizer(),
        [('0', box_of(box), [('beer_glass', 0.9), ('soju_glass', 0.1)])],
        depth,
        CAMERA,
        shipped_sizes,
    )
    loc = g.localization
    assert loc.flag and not loc.size_measured, what
    assert math.sqrt(np.linalg.eigvalsh(loc.covariance).max()) > 0.05
    assert g.fused == g.crop  # an implausible size is no evidence


def test_an_upright_glass_is_not_flagged_by_the_size_model(shipped_sizes):
    normal, d = table(35, 0.55)
    _, box = glass_on(normal, d, (320, 330), 0.15, 0.08)
    (g,) = localize_frame(
        Localizer(),
        [('0', box, [('beer_glass', 0.9), ('soju_glass', 0.1)])],
        plane_depth(normal, d),
        CAMERA,
        shipped_sizes,
    )
    assert not g.localization.flag and g.fused[0][0] == 'beer_glass'


def test_a_box_cut_by_the_image_border_is_flagged():
    normal, d = table(35, 0.55)
    depth = plane_depth(normal, d)
    loc = Localizer().locate(Box(320, 460, 60, 40), depth, CAMERA, 'cup')
    assert 'cut by the bottom of the image' in loc.flag


def test_naive_method_uses_the_median_depth_in_the_box():
    depth = np.full((480, 640), np.nan, np.float32)
    depth[200:260, 300:340] = 1.2
    p = naive_centre(Box(320, 230, 40, 60), depth, CAMERA)
    assert p[2] == pytest.approx(1.2) and abs(p[0]) < 0.01
    assert naive_centre(Box(100, 100, 10, 10), depth, CAMERA) is None


def test_localize_frame_fuses_only_measured_sizes(tmp_path):
    from glass_perception.core.sizes import Mixture, SizeModel

    normal, d = table(35, 0.55)
    _, box = glass_on(normal, d, (320, 300), 0.06, 0.05)
    depth = plane_depth(normal, d)
    mix = {
        'beer_glass': Mixture(np.ones(1), np.log([[0.16, 0.08]]), np.eye(2)[None] * 0.01),
        'soju_glass': Mixture(np.ones(1), np.log([[0.06, 0.05]]), np.eye(2)[None] * 0.01),
    }
    sizes = SizeModel(('beer_glass', 'soju_glass'), mix, np.eye(2) * 0.005)
    crop = [('beer_glass', 0.6), ('soju_glass', 0.4)]  # a crop has no scale: unsure
    (g,) = localize_frame(Localizer(), [('7', box, crop)], depth, CAMERA, sizes)
    assert g.det_id == '7' and g.crop == crop
    assert g.fused[0][0] == 'soju_glass' and g.fused[0][1] > 0.9  # 6 cm tall: a shot glass
    assert g.fragile
    (blind,) = localize_frame(
        Localizer(), [('7', box, crop)], np.full_like(depth, np.nan), CAMERA, sizes
    )
    assert blind.fused == crop  # no measured size: appearance only


@pytest.mark.parametrize(
    'down, at_uv, size, label',
    [
        (65, (330, 300), (0.10, 0.07), 'cup'),
        (75, (300, 260), (0.17, 0.08), 'beer_glass'),
        (85, (330, 250), (0.062, 0.05), 'soju_glass'),
        (90, (400, 330), (0.12, 0.07), 'cup'),  # straight down, a wrist camera before a grasp
    ],
)
def test_a_steep_view_gives_a_position_not_a_flag(down, at_uv, size, label):
    normal, d = table(down, 0.5)
    base, box = glass_on(normal, d, at_uv, *size)
    depth = plane_depth(normal, d, noise=0.001)
    loc = Localizer().locate(box, depth, CAMERA, label)
    assert loc.method == SURFACE and not loc.flag
    assert np.linalg.norm(loc.base - base) < 0.01
    assert loc.diameter == pytest.approx(size[1], rel=0.15)
    # the covariance covers the error, and the height is no evidence when the box cannot give it
    err = loc.centre - (base + size[0] / 2 * normal)
    assert float(err @ np.linalg.solve(loc.covariance, err)) < 7.815
    if down >= 85:
        assert not loc.size_measured


def slab_depth(normal, d, raised, inside, camera=CAMERA):
    """
    Return the depth of a table (n.p + d = 0) with a slab ``raised`` m above it where ``inside``.

    ``inside(p)`` says, for points (N, 3) on the slab's top, which lie on the slab.
    """
    v, u = np.mgrid[0:camera.height, 0:camera.width]
    rays = camera.rays(u.ravel(), v.ravel())
    denom = rays @ normal
    t_table, t_top = -d / denom, -(d - raised) / denom
    on_top = (t_top > 0) & inside(rays * t_top[:, None])
    t = np.where(on_top, t_top, t_table)
    return np.where(t > 0, t, np.nan).reshape(camera.height, camera.width).astype(np.float32)


@pytest.mark.parametrize('down, raised', [(30, 0.02), (55, 0.035), (80, 0.012)])
def test_a_glass_on_a_board_stands_on_the_board_not_the_table(down, raised):
    normal, d = table(down, 0.55)
    base, box = glass_on(normal, d - raised, (330, 300), 0.12, 0.07)

    def on_board(p):  # a 16 cm square board around the glass
        q = p - base
        q -= np.outer(q @ normal, normal)
        return np.max(np.abs(q), axis=1) < 0.08

    depth = slab_depth(normal, d, raised, on_board)
    # the dominant plane around the glass is the table, as with a tray or board in a wide view
    loc = Localizer().locate(box, depth, CAMERA, 'cup')
    assert loc.method == SURFACE and not loc.flag, loc.flag
    assert np.linalg.norm(loc.base - base) < 0.006
    assert loc.plane.d == pytest.approx(d - raised, abs=0.003)


def test_two_plausible_supports_are_flagged_and_covered():
    normal, d = table(35, 0.55)
    base, box = glass_on(normal, d, (330, 300), 0.12, 0.07)
    away = base - (base @ normal) * normal
    away /= np.linalg.norm(away)
    side = np.cross(normal, away)
    # the glass stands on the table, but the edge of a board 2.5 cm thick runs under its axis
    # towards the camera: the depth beside its foot shows the table on one side and the board on
    # the other (and a plane tilted across both fits more points than either)
    depth = slab_depth(normal, d, 0.025, lambda p: np.abs((p - base) @ side + 0.08) < 0.08)
    loc = Localizer().locate(box, depth, CAMERA, 'cup')
    assert 'two supports plausible' in loc.flag
    err = loc.centre - (base + 0.06 * normal)
    assert float(err @ np.linalg.solve(loc.covariance, err)) < 7.815  # the truth is covered


CHECKED = Localizer(LocalizerConfig(check_hidden_foot=True))


def behind_a_mug(see_through: bool):
    """
    Return (base, the back glass's box, the mug's box, depth): a pint 45 cm behind a mug.

    An opaque mug hides the pint's foot: the pint's box ends on the mug's top, and the depth
    there is the mug's. A transparent glass in front hides nothing: the box reaches the foot, and
    the depth sees through to the table.
    """
    normal, d = table(30, 0.55)
    base, box = glass_on(normal, d, (320, 250), 0.16, 0.085)
    _, mug = glass_on(normal, d, (330, 300), 0.10, 0.085)
    depth = plane_depth(normal, d)
    x0, y0, x1, y1 = box.xyxy()
    if not see_through:
        mx0, my0, mx1, my1 = (int(v) for v in mug.xyxy())
        ray = CAMERA.rays([330], [300])[0]
        depth[my0:my1, mx0:mx1] = float(ray[2] * (-d / (ray @ normal)))  # the mug's front
        box = Box.from_xyxy(x0, y0, x1, mug.xyxy()[1])
    return normal, base, box, mug, depth


def test_a_foot_hidden_by_an_opaque_object_in_front_is_flagged_and_covered():
    normal, base, box, mug, depth = behind_a_mug(see_through=False)
    assert box.xyxy()[3] < mug.xyxy()[3]  # the pint's box ends on the mug
    blind = Localizer().locate(box, depth, CAMERA, 'beer_glass', [mug])  # the check is off
    assert not blind.flag and np.linalg.norm(blind.base - base) > 0.03  # what it guards against
    loc = CHECKED.locate(box, depth, CAMERA, 'beer_glass', [mug])
    assert 'the foot may be hidden' in loc.flag and not loc.size_measured
    err = loc.centre - (base + 0.08 * normal)
    assert float(err @ np.linalg.solve(loc.covariance, err)) < 7.815  # the truth is covered


def test_a_transparent_glass_in_front_hides_no_foot():
    normal, base, box, mug, depth = behind_a_mug(see_through=True)
    loc = CHECKED.locate(box, depth, CAMERA, 'beer_glass', [mug])
    assert not loc.flag, loc.flag
    assert np.linalg.norm(loc.base - base) < 0.006


def test_a_glass_beside_another_seen_from_above_is_not_flagged():
    # straight down the boxes of neighbours touch, but nothing stands in front of a rim
    normal, d = table(85, 0.5)
    _, box = glass_on(normal, d, (300, 240), 0.12, 0.08)
    _, other = glass_on(normal, d, (300, 300), 0.12, 0.08)
    depth = plane_depth(normal, d)
    x0, y0, x1, y1 = (int(v) for v in other.xyxy())
    depth[y0:y1, x0:x1] = 0.38  # an opaque cup's rim, nearer
    loc = CHECKED.locate(box, depth, CAMERA, 'cup', [other])
    assert 'hidden' not in loc.flag
