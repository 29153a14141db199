"""glass_perception.core.sizes: the size likelihoods, the fusion, and the shipped model's file."""

import math

from glass_perception.core.errors import ModelLoadError
from glass_perception.core.paths import DEFAULT_CLASSIFIER
from glass_perception.core.sizes import Mixture, OUTLIER_SHARE, SizeModel, sizes_path
import numpy as np
import pytest


@pytest.fixture(scope='module')
def shipped():
    return SizeModel.load(sizes_path(DEFAULT_CLASSIFIER))


def test_the_shipped_model_sits_beside_the_classifier_and_knows_its_classes(shipped):
    assert sizes_path(DEFAULT_CLASSIFIER).name == 'glass_mobilenet_v2.sizes.json'
    assert shipped.classes == ('cup', 'beer_glass', 'soju_glass')
    assert shipped.temperature > 0 and 'seeds 101' in shipped.source
    assert all(0.5 < r <= 1.0 for r in shipped.base_ratio.values())


@pytest.mark.parametrize(
    'height, diameter, best',
    [
        (0.06, 0.045, 'soju_glass'),
        (0.16, 0.08, 'beer_glass'),
        (0.22, 0.075, 'beer_glass'),
        (0.095, 0.085, 'cup'),
    ],
)
def test_typical_sizes_are_most_likely_under_their_class(shipped, height, diameter, best):
    lik = shipped.likelihood(height, diameter)
    assert shipped.classes[int(np.argmax(lik))] == best


def test_a_density_integrates_to_one():
    m = Mixture(
        np.array([0.3, 0.7]),
        np.log([[0.06, 0.05], [0.15, 0.08]]),
        np.eye(2)[None].repeat(2, 0) * 0.01,
    )
    g = np.linspace(-5, 0, 201)
    dx = g[1] - g[0]
    total = sum(m.density(np.array([a, b]), np.zeros((2, 2))) for a in g for b in g) * dx * dx
    assert total == pytest.approx(1.0, abs=0.01)


def test_fusion_is_naive_bayes_and_an_odd_size_never_vetoes_the_crop(shipped):
    names, probs = ['cup', 'beer_glass', 'soju_glass'], [0.2, 0.5, 0.3]
    post = shipped.fuse(names, probs, 0.06, 0.045)  # a shot glass's size
    p = np.array(probs) ** (1 / shipped.temperature) * shipped.likelihood(0.06, 0.045)
    assert post == pytest.approx(p / p.sum())
    assert names[int(np.argmax(post))] == 'soju_glass'
    weird = shipped.fuse(names, [0.98, 0.01, 0.01], 0.6, 0.5)  # fits nothing: the crop decides
    assert names[int(np.argmax(weird))] == 'cup'
    assert (
        shipped.likelihood(0.6, 0.5).min()
        >= OUTLIER_SHARE * 0.99 * shipped.likelihood(0.6, 0.5).max()
    )


def test_implausible_sizes_fit_no_class(shipped):
    assert shipped.implausible(0.08, 0.25)  # lying on its side: wide and low
    assert shipped.implausible(0.45, 0.05)
    assert not shipped.implausible(0.15, 0.08)


def test_fusion_keeps_a_class_the_model_does_not_know(shipped):
    post = shipped.fuse(['cup', 'wine_glass'], [0.5, 0.5], 0.095, 0.085)
    assert len(post) == 2 and math.isclose(sum(post), 1.0)


@pytest.mark.parametrize(
    'text, why',
    [
        ('', 'not a readable size model'),
        ('{"format": "other"}', 'format is not'),
        ('{"format": "glass_perception.sizes", "classes": ["cup"]}', 'not a readable size model'),
    ],
)
def test_a_broken_file_stops_with_one_line_naming_it(tmp_path, text, why):
    f = tmp_path / 'bad.sizes.json'
    f.write_text(text)
    with pytest.raises(ModelLoadError, match=why) as info:
        SizeModel.load(f)
    assert str(f) in str(info.value) and '\n' not in str(info.value)


def test_a_missing_file_says_how_to_make_it_or_turn_fusion_off(tmp_path):
    with pytest.raises(ModelLoadError, match='glass-fit-sizes.*fusion: false'):
        SizeModel.load(tmp_path / 'none.sizes.json')


def test_the_model_round_trips_through_its_json(shipped, tmp_path):
    f = tmp_path / 'copy.sizes.json'
    f.write_text(shipped.to_json())
    again = SizeModel.load(f)
    for h, d in ((0.06, 0.05), (0.16, 0.08), (0.1, 0.09)):
        assert again.likelihood(h, d) == pytest.approx(shipped.likelihood(h, d), rel=1e-9)
    assert (again.temperature, again.base_ratio, again.typical_density) == (
        shipped.temperature,
        shipped.base_ratio,
        shipped.typical_density,
    )
