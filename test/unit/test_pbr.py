"""The physically based renderer: closed meshes, deterministic scenes, its own ground truth."""

from __future__ import annotations

from collections import Counter
import math

from glass_perception.core.synthetic import CLASSES
from glass_perception.workflow import pbr
import numpy as np
import pytest


def _edges_by_position(mesh: pbr.MeshData) -> Counter:
    """Undirected edges between welded positions (the seam duplicates vertices for its uv)."""
    _, weld = np.unique(np.round(mesh.vertices, 4), axis=0, return_inverse=True)
    weld = weld.ravel()
    edges = Counter()
    for a, b, c in mesh.faces:
        for u, v in ((a, b), (b, c), (c, a)):
            edges[tuple(sorted((weld[u], weld[v])))] += 1
    return edges


def test_vessel_is_a_closed_outward_facing_shell_of_the_right_volume():
    height, r, wall, base = 10.0, 3.0, 0.3, 1.0
    mesh = pbr.lathe(
        pbr.vessel_profile(height, lambda t: np.full_like(t, r), wall, base), segments=96
    )
    assert set(_edges_by_position(mesh).values()) == {2}, 'every edge must join exactly two faces'
    glass = math.pi * r**2 * height - math.pi * (r - wall) ** 2 * (height - base)
    assert pbr.signed_volume(mesh) == pytest.approx(glass, rel=0.01)


def test_liquid_fits_inside_the_vessel():
    radius = lambda t: 2.5 + 1.0 * t  # noqa: E731
    height, wall, base = 14.0, 0.25, 0.8
    liquid = pbr.lathe(pbr.fill_profile(height, radius, wall, base, level=0.7))
    assert set(_edges_by_position(liquid).values()) == {2} and pbr.signed_volume(liquid) > 0
    v = liquid.vertices
    r = np.hypot(v[:, 0], v[:, 2])
    assert v[:, 1].min() > base and v[:, 1].max() <= 0.7 * height + 1e-4
    assert np.all(r <= radius(v[:, 1] / height) - wall + 1e-4), (
        'the liquid pokes through the glass'
    )


def test_transform_moves_and_turns_but_keeps_volume():
    mesh = pbr.lathe(pbr.vessel_profile(8.0, lambda t: np.full_like(t, 2.0), 0.2, 0.5))
    moved = mesh.transformed(1.0, 10.0, -5.0)
    assert pbr.signed_volume(moved) == pytest.approx(pbr.signed_volume(mesh), rel=1e-4)
    assert moved.vertices[:, 0].mean() == pytest.approx(10.0, abs=0.1)
    assert moved.vertices[:, 2].mean() == pytest.approx(-5.0, abs=0.1)


def test_recipe_is_a_pure_function_of_seed_and_index():
    a, b, c = pbr.make_recipe(3, 1), pbr.make_recipe(3, 1), pbr.make_recipe(3, 2)
    assert [(o.kind, o.variant, o.x, o.z) for o in a.objects] == [
        (o.kind, o.variant, o.x, o.z) for o in b.objects
    ]
    assert np.array_equal(a.table, b.table) and a.camera_origin == b.camera_origin
    assert a.camera_origin != c.camera_origin
    for o in a.objects:  # objects never intersect on the table
        for p in a.objects:
            if o is not p:
                assert math.hypot(o.x - p.x, o.z - p.z) > o.footprint + p.footprint


def test_glass_tints_and_fills_vary():
    glass_tints, fills = set(), Counter()
    for i in range(30):
        for o in pbr.make_recipe(11, i).objects:
            if o.kind in ('beer_glass', 'soju_glass'):
                glass_tints.add(tuple(o.parts[0].bsdf['specular_transmittance']['value']))
                fills[(o.kind, len(o.parts))] += 1
    assert len(glass_tints) > 5
    assert {n for (k, n) in fills if k == 'beer_glass'} >= {1, 2}, (
        'beer glasses must be both empty and filled'
    )


@pytest.fixture(scope='module')
def scenes():
    return [pbr.render_pbr_scene(21, i, 160, 120, 'preview') for i in range(4)]


def test_preview_scenes_render_with_boxes_inside_the_image(scenes):
    assert any(s.objects for s in scenes)
    for s in scenes:
        assert s.image.shape == (120, 160, 3) and s.image.dtype == np.uint8
        assert s.image.std() > 5, 'a blank render'
        for o in s.objects:
            x0, y0, x1, y1 = o.box.xyxy()
            assert 0 <= x0 < x1 <= 160 and 0 <= y0 < y1 <= 120
            assert 0.0 < o.visibility <= 1.0


def test_rendering_is_deterministic(scenes):
    again = pbr.render_pbr_scene(21, 0, 160, 120, 'preview')
    assert np.array_equal(again.image, scenes[0].image)
    assert [(o.kind, o.box) for o in again.objects] == [(o.kind, o.box) for o in scenes[0].objects]


def test_a_lone_glass_is_found_whole():
    # one object and nothing in front of it: the renderer's own pass finds it, almost fully visible
    for i in range(10):
        recipe = pbr.make_recipe(77, i, max_objects=1, kinds=CLASSES)
        if recipe.objects:
            break
    scene = pbr.render_pbr_scene(77, i, 160, 120, 'preview', max_objects=1, kinds=CLASSES)
    assert len(scene.objects) == 1 and scene.objects[0].kind in CLASSES
    assert scene.objects[0].visibility == pytest.approx(1.0, abs=0.25)


def test_unknown_quality_is_refused():
    with pytest.raises(ValueError, match='quality'):
        pbr.render_pbr_scene(1, 0, 160, 120, 'ultra')
