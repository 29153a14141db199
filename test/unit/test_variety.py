"""The wide generator: new shape families, held-out sets kept apart, the classic one unchanged."""

from __future__ import annotations

import hashlib

import cv2
from glass_perception.core.synthetic import CLASSES
from glass_perception.workflow import pbr, variety
import numpy as np
import pytest

#: fingerprints of classic recipes 101/0-3 as stage 5 was trained on them (before the wide work)
CLASSIC = ['d2ea1f64bede32de', '46f7e08a5ef382fa', 'fb0e8ebe322995f4', 'd2f19d0c0ae7885b']


def _fingerprint(r: pbr.Recipe) -> str:
    h = hashlib.sha256()
    h.update(repr([(o.kind, o.variant, round(o.x, 6), round(o.z, 6)) for o in r.objects]).encode())
    h.update(repr([round(v, 6) for v in r.camera_origin]).encode())
    h.update(np.round(r.table, 5).tobytes())
    for o in r.objects:
        for p in o.parts:
            h.update(np.round(p.mesh.vertices, 4).tobytes())
            h.update(
                repr(sorted((k, str(v)) for k, v in p.bsdf.items() if k != 'reflectance')).encode()
            )
    return h.hexdigest()[:16]


def test_classic_recipes_are_those_the_shipped_models_were_trained_on():
    assert [_fingerprint(pbr.make_recipe(101, i)) for i in range(4)] == CLASSIC
    assert pbr.make_recipe(101, 0).effects is None and pbr.make_recipe(101, 0).extra_lights == []


@pytest.mark.parametrize('variant', ['nonic', 'tulip', 'shot_flared', 'tea_cup', 'plastic_cup'])
def test_new_families_are_closed_vessels_of_their_class_size(variant):
    rng = np.random.default_rng(3)
    kind = next(k for k, v in variety.WIDE_VARIANTS.items() if variant in v)
    obj = pbr.make_object(rng, kind, variant, 'wide')
    shell = obj.parts[0].mesh
    assert pbr.signed_volume(shell) > 0, 'faces point outwards'
    height = float(shell.vertices[:, 1].max())
    low, high = {'cup': (4.5, 12.5), 'beer_glass': (12.0, 26.0), 'soju_glass': (4.5, 7.5)}[kind]
    assert low <= height <= high


def test_a_tulip_stands_on_a_foot_and_a_stem():
    rng = np.random.default_rng(0)
    h, r, _, _, inner_base = variety.profile(rng, 'tulip')
    t = np.array([0.0, 0.1, 0.6])
    foot, stem, bowl = r(t)
    assert stem < 1.0 < foot and stem < bowl and inner_base > 0.2 * h


def test_train_and_unseen_sets_keep_the_held_out_families_and_photographs_apart():
    train = [pbr.make_recipe(7, i, variety='wide', family_set='train') for i in range(40)]
    unseen = [pbr.make_recipe(7, i, variety='wide', family_set='unseen') for i in range(40)]
    seen_variants = {o.variant for r in train for o in r.objects}
    assert not seen_variants & set(variety.HELD_OUT_FAMILIES)
    assert {'nonic', 'plastic_cup'} <= seen_variants
    for r in train:
        assert not any(p in r.meta['table'] + r.meta['wall'] for p in variety.HELD_OUT_PHOTOS)
    glassware = {o.variant for r in unseen for o in r.objects if o.kind in CLASSES}
    assert glassware == set(variety.HELD_OUT_FAMILIES)
    assert any(r.meta['table'] == 'gravel' for r in unseen)
    with pytest.raises(ValueError, match='family set'):
        pbr.make_recipe(7, 0, variety='wide', family_set='most')
    with pytest.raises(ValueError, match='wide generator'):
        pbr.make_recipe(7, 0, family_set='train')


def test_wide_recipes_vary_light_camera_and_distance():
    recipes = [pbr.make_recipe(9, i, variety='wide') for i in range(60)]
    assert {r.meta['lights'] for r in recipes} == {1, 2, 3}
    assert any(r.meta['table'] != 'procedural' for r in recipes)
    assert len({r.effects['jpeg_quality'] for r in recipes}) > 2
    dist = [np.linalg.norm(np.subtract(r.camera_origin, r.camera_target)) for r in recipes]
    assert min(dist) < 45 and max(dist) > 120  # cm: classic stays within about 35-90


def test_photographs_come_from_scikit_image_as_textures():
    tex = variety.photo_texture(np.random.default_rng(1), 'brick', size=64)
    assert tex.shape == (64, 64, 3) and tex.dtype == np.float32 and 0 < tex.min() < tex.max() < 1
    assert set(variety.PHOTOS) == set(variety.SURFACE_PHOTOS + variety.PICTURE_PHOTOS)


def test_camera_effects_keep_the_image_and_change_it():
    rng = np.random.default_rng(2)
    image = cv2.GaussianBlur(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8), (5, 5), 0)
    fx = {
        'white_balance': (1.1, 1.0, 0.9),
        'motion_blur': (7, 30.0),
        'jpeg_quality': 40,
        'defocus': 2,
    }
    out = variety.apply_camera_effects(image, fx)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - image).mean() > 1.0
    plain = {'white_balance': (1.0, 1.0, 1.0), 'motion_blur': (0, 0.0), 'jpeg_quality': 0}
    assert np.array_equal(variety.apply_camera_effects(image, plain), image)


def test_a_wide_scene_renders_with_distances_and_its_description():
    scene = pbr.render_pbr_scene(
        11, 2, 96, 72, 'preview', variety='wide', family_set='unseen', max_objects=2
    )
    assert scene.image.shape == (72, 96, 3)
    assert scene.meta['lights'] >= 1 and 'table' in scene.meta
    for o in scene.objects:
        assert 0.2 < o.distance < 2.5


def test_no_light_shows_the_camera_its_black_back():
    """An area light between the camera and the table blackened scene 112/1 (wide validation)."""
    recipe = pbr.make_recipe(112, 1, variety='wide', family_set='train')
    assert pbr.light_backs_in_view(recipe, 480, 360) == [2]  # the second extra light
    fixed = pbr.lights_out_of_view(recipe, 480, 360)
    assert pbr.light_backs_in_view(fixed, 480, 360) == []
    assert fixed.extra_lights[0] == recipe.extra_lights[0]  # only that light moved
    assert fixed.extra_lights[1][1:] == recipe.extra_lights[1][1:]  # same size and colour
    assert fixed.light_position == recipe.light_position and fixed.objects is recipe.objects
    image = pbr.render_pbr_scene(
        112, 1, 96, 72, 'preview', variety='wide', family_set='train'
    ).image
    assert image.mean() > 40  # it rendered black (mean 1 of 255) with the light in front
    # scenes without such a light, and every classic one, render as they did
    untouched = pbr.make_recipe(112, 2, variety='wide', family_set='train')
    assert pbr.lights_out_of_view(untouched, 480, 360) is untouched
    assert not any(pbr.light_backs_in_view(pbr.make_recipe(101, i), 480, 360) for i in range(40))


def test_wide_rgbd_scenes_render_with_their_table_and_give_crops(tmp_path):
    """`glass-synth rgbd --variety wide` records its settings; `crops` cuts from that folder."""
    import json

    from glass_perception.tools import synth
    from glass_perception.workflow.rgbd import export_rgbd

    pytest.importorskip('mitsuba')
    with pytest.raises(ValueError, match='wide generator'):
        export_rgbd(tmp_path / 'bad', 5, 1, 'preview', family_set='train')
    assert not (tmp_path / 'bad').exists(), 'a refused folder is not started'
    root = tmp_path / 'rgbd'
    assert export_rgbd(root, 5, 1, 'preview', variety='wide', family_set='train') == 1
    settings = json.loads((root / 'rgbd_settings.json').read_text())
    assert settings == {'seed': 5, 'quality': 'preview', 'variety': 'wide', 'families': 'train'}
    with pytest.raises(ValueError, match='holds scenes rendered with'):
        export_rgbd(root, 5, 1, 'preview')  # the classic recipes would not match the folder
    truth = json.loads((root / 'truth.json').read_text())['s5_00000']
    assert 'table' in truth['scene']
    want = [o for o in truth['objects'] if o['kind'] in CLASSES and o['visibility'] >= 0.6]
    assert synth.main(['crops', '--from', str(root), '--out', str(tmp_path / 'c')]) == 0
    assert len(list((tmp_path / 'c').glob('*/*.png'))) == len(want)
    # the same frames as a YOLO split: one label row per object, the boxes normalised
    det = tmp_path / 'det'
    assert synth.main(['yolo', '--from', str(root), '--out', str(det), '--split', 'steep']) == 0
    rows = (det / 'labels' / 'steep' / 's5_00000.txt').read_text().split('\n')[:-1]
    assert len(rows) == len(truth['objects'])
    cx, cy = (float(v) for v in rows[0].split()[1:3])
    assert (cx * 640, cy * 480) == pytest.approx(truth['objects'][0]['box'][:2], abs=0.01)
    assert 'steep: images/steep' in (det / 'data.yaml').read_text()
    assert synth.main(['yolo', '--from', str(tmp_path), '--out', str(det), '--split', 'x']) == 2
