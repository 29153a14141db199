"""glass_perception.workflow.supports: trays, boards, coasters and plates under glasses."""

import math

from glass_perception.workflow import pbr, supports
import numpy as np
import pytest


@pytest.mark.parametrize('kind', supports.SUPPORT_KINDS)
def test_each_support_has_a_flat_top_where_its_glass_stands(kind):
    rng = np.random.default_rng(3)
    part, top, flat, rnd = supports.make_support(rng, kind, foot=3.0)
    v = part.mesh.vertices.astype(float)
    assert 0.3 <= top <= 4.0  # 3-40 mm
    # a closed solid with outward faces, standing on the table
    assert pbr.signed_volume(part.mesh) > 0 and v[:, 1].min() == pytest.approx(0.0)
    inside = (np.hypot(v[:, 0], v[:, 2]) < 0.9 * min(flat)) if rnd else (
        (np.abs(v[:, 0]) < 0.9 * flat[0]) & (np.abs(v[:, 2]) < 0.9 * flat[1])
    )
    assert v[inside, 1].max() == pytest.approx(top, abs=1e-4)  # the top the glass stands on
    assert min(flat) >= 3.0  # the glass's foot fits on it


def test_a_support_raises_its_glass_and_keeps_no_object_straddling_its_edge():
    recipe = pbr.make_recipe(9702, 7, max_objects=4, variety='wide', family_set='train')
    before = {id(o): (o.x, o.z, o.footprint) for o in recipe.objects}
    supports.add_supports(np.random.default_rng(5), recipe, chance=1.0)
    assert recipe.supports and recipe.meta['support'] in supports.SUPPORT_KINDS
    top = recipe.meta['support_mm'] / 10.0
    raised = [o for o in recipe.objects if o.y > 0]
    assert raised
    for o in raised:
        assert o.y == pytest.approx(top, abs=0.01)
        assert o.parts[0].mesh.vertices[:, 1].min() == pytest.approx(top, abs=0.05)
    assert all(id(o) in before for o in recipe.objects)
    for o in recipe.objects:
        if o.y == 0:
            assert o.parts[0].mesh.vertices[:, 1].min() == pytest.approx(0.0, abs=0.05)


def test_no_support_is_drawn_when_the_chance_is_zero():
    recipe = pbr.make_recipe(9702, 7)
    supports.add_supports(np.random.default_rng(5), recipe, chance=0.0)
    assert not recipe.supports and all(o.y == 0 for o in recipe.objects)


def test_camera_up_orients_a_straight_down_view():
    recipe = pbr.make_recipe(1, 0)
    recipe.camera_target = (0.0, 0.0, 0.0)
    recipe.camera_origin = (0.0, 60.0, 0.0)
    recipe.up_hint = (0.0, 0.0, -1.0)
    origin, rows = pbr._camera_axes(recipe)
    assert np.all(np.isfinite(rows))
    assert rows[2] == pytest.approx([0.0, -1.0, 0.0])  # forward: down
    assert rows[1] == pytest.approx([0.0, 0.0, 1.0])  # image down: towards the viewer's +z
    # where the world's up still orients the view, it is used as before
    recipe.camera_origin = (0.0, 60.0, 60.0)
    _, rows = pbr._camera_axes(recipe)
    assert rows[0] == pytest.approx([1.0, 0.0, 0.0])
    assert math.isclose(float(np.linalg.det(rows)), 1.0, abs_tol=1e-9)
