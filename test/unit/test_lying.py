"""glass_perception.workflow.lying: glasses, bottles and cups knocked over on their side."""

import json
import math

from glass_perception.workflow import lying, pbr
from glass_perception.workflow.evaluation_3d import _eligible
from glass_perception.workflow.rgbd import export_rgbd, render_rgbd_recipe, rgbd_recipe
import numpy as np
import pytest


def _vessel(bottom: float, top: float, height: float = 12.0) -> np.ndarray:
    profile = pbr.vessel_profile(height, lambda t: bottom + (top - bottom) * t, 0.3, 0.8)
    return pbr.lathe(profile).vertices.astype(float)


def test_a_cylinder_lies_flat_and_a_tapered_cup_rests_on_its_rim_and_its_foot():
    for azimuth in (0.0, 1.0, 4.0):
        rot = lying.resting_pose(_vessel(3.0, 3.0), azimuth)
        axis = rot @ np.array([0.0, 1.0, 0.0])
        assert abs(axis[1]) < math.sin(math.radians(1.0))  # the axis is horizontal
        # it fell towards the azimuth: its top points there
        assert math.atan2(axis[2], axis[0]) == pytest.approx(
            math.atan2(math.sin(azimuth), math.cos(azimuth)), abs=1e-6
        )
    cup = _vessel(2.5, 4.5)
    rested = cup @ lying.resting_pose(cup, 0.0).T
    rested[:, 1] -= rested[:, 1].min()
    # the lowest points are at both ends: the foot and the rim touch the table
    along = rested[:, 0]
    low = rested[:, 1] < 0.05
    assert along[low].min() < 1.0 and along[low].max() > 10.0


def test_lying_objects_lie_on_the_table_apart_and_emptied_the_rest_stands():
    laid, kept_upright = 0, 0
    for index in range(30):
        recipe = rgbd_recipe(41, index, variety='wide', family_set='train', lying=1.0)
        plain = rgbd_recipe(41, index, variety='wide', family_set='train')
        for obj, before in zip(recipe.objects, plain.objects):
            v = obj.parts[0].mesh.vertices.astype(float)
            assert v[:, 1].min() == pytest.approx(0.0, abs=1e-3)
            if obj.lying:
                laid += 1
                assert obj.variant in lying.LYING_VARIANTS[obj.kind]
                assert len(obj.parts) == 1  # no liquid, foam or coffee
                # on its side it is about as tall as it is wide (more when it rests tilted)
                up = before.parts[0].mesh.vertices.astype(float)
                width = 2.0 * np.hypot(up[:, 0] - before.x, up[:, 2] - before.z).max()
                assert v[:, 1].max() <= 1.3 * width
            elif obj.variant in lying.LYING_VARIANTS.get(obj.kind, ()) and obj.y == 0.0:
                kept_upright += 1  # it would have reached another object
        for a in recipe.objects:
            for b in recipe.objects:
                if a is not b:
                    assert math.hypot(a.x - b.x, a.z - b.z) > a.footprint + b.footprint
    assert laid >= 20
    assert not any(o.lying for o in rgbd_recipe(41, 0, lying=0.0).objects)


def test_no_draw_without_lying_so_earlier_seeds_render_the_same_scenes():
    for index in range(6):
        a = rgbd_recipe(131, index, variety='wide', family_set='train', supports=0.3, clutter=1.0)
        b = rgbd_recipe(
            131, index, variety='wide', family_set='train', supports=0.3, clutter=1.0, lying=0.0
        )
        assert a.camera_origin == b.camera_origin and a.meta == b.meta
        assert [(o.x, o.z) for o in a.objects] == [(o.x, o.z) for o in b.objects]
    with pytest.raises(ValueError, match='lying 2.0 is not a probability'):
        rgbd_recipe(3, 0, lying=2.0)


def test_a_lying_glass_is_labelled_in_2d_and_left_out_of_the_3d_evaluation(tmp_path):
    index = next(
        i for i in range(40)
        if any(o.lying and o.kind != 'bottle' for o in rgbd_recipe(
            41, i, variety='wide', family_set='train', lying=1.0).objects)
    )
    recipe = rgbd_recipe(41, index, variety='wide', family_set='train', lying=1.0)
    scene = render_rgbd_recipe(recipe, 41, index, 'preview')
    down = [o for o in scene.objects if o.lying]
    assert down, 'the lying glass is not in view'
    for o in down:
        assert o.box.w > 4 and o.box.h > 4
        record = o.to_json()
        assert record['lying'] is True
        assert not _eligible({**record, 'visibility': 1.0, 'truncated': False}, 0.6, (0.0, 9.0))
    upright = [o.to_json() for o in scene.objects if not o.lying]
    assert all('lying' not in r for r in upright)
    # the folder records the setting, and a resumed render refuses another one
    export_rgbd(tmp_path, 41, 1, 'preview', variety='wide', family_set='train', lying=0.5)
    assert json.loads((tmp_path / 'rgbd_settings.json').read_text())['lying'] == 0.5
    with pytest.raises(ValueError, match='rendered with'):
        export_rgbd(tmp_path, 41, 1, 'preview', variety='wide', family_set='train', lying=0.2)
