"""glass_perception.core.params and config/params.yaml."""

from __future__ import annotations

import math
from pathlib import Path

from glass_perception.core.params import NODES, Param
import pytest
import yaml

PARAMS_YAML = Path(__file__).resolve().parents[2] / 'config' / 'params.yaml'
ALL = [(node, p) for node, params in NODES.items() for p in params]


def spec(node: str, name: str) -> Param:
    return next(p for p in NODES[node] if p.name == name)


def test_nodes():
    assert set(NODES) == {
        'camera_node',
        'detector_node',
        'classifier_node',
        'overlay_node',
        'localizer_node',
        'foxglove_node',  # optional: glass-pipeline --foxglove, foxglove:=true
    }
    for node, params in NODES.items():
        names = [p.name for p in params]
        assert len(names) == len(set(names)), node


@pytest.mark.parametrize('node, p', ALL, ids=[f'{n}.{p.name}' for n, p in ALL])
def test_every_default_is_valid(node, p):
    assert p.validate(p.default) is None
    assert p.description.strip()
    if p.low is not None:
        assert p.low <= p.default <= p.high


@pytest.mark.parametrize(
    'node, name, value, words',
    [
        ('camera_node', 'fps', 0.0, 'outside'),
        ('camera_node', 'fps', 121.0, 'outside'),
        ('camera_node', 'fps', math.nan, 'finite'),
        ('camera_node', 'fps', math.inf, 'finite'),
        ('camera_node', 'fps', '10', 'must be float'),
        ('camera_node', 'fps', True, 'must be float'),
        ('camera_node', 'width', 63, 'outside'),
        ('camera_node', 'width', 4097, 'outside'),
        ('camera_node', 'width', 640.0, 'must be int'),
        ('camera_node', 'width', '640', 'must be int'),
        ('camera_node', 'seed', True, 'must be int'),
        ('camera_node', 'seed', -1, 'outside'),
        ('camera_node', 'loop', 1, 'must be bool'),
        ('camera_node', 'source', '   ', 'empty'),
        ('camera_node', 'frame_id', '', 'empty'),
        ('camera_node', 'source', 0, 'must be str'),
        ('detector_node', 'imgsz', 100, 'multiple of 32'),
        ('detector_node', 'imgsz', 0, 'outside'),
        ('detector_node', 'conf', 1.5, 'outside'),
        ('detector_node', 'iou', -0.1, 'outside'),
        ('detector_node', 'device', 'gpu', 'not one of'),
        ('detector_node', 'device', 'cuda:x', 'not one of'),
        ('detector_node', 'crop_classes', [], 'at least one'),
        ('detector_node', 'crop_classes', ['cup', ' '], 'at least one'),
        ('detector_node', 'crop_classes', 'cup', 'must be list'),
        ('detector_node', 'crop_size', 8, 'outside'),
        ('classifier_node', 'fragile_threshold', 1.01, 'outside'),
        ('classifier_node', 'pair_cache_size', 0, 'outside'),
        ('classifier_node', 'device', 'tpu', 'not one of'),
        ('overlay_node', 'line_width', 11, 'outside'),
        ('overlay_node', 'image_cache_size', 2.5, 'must be int'),
    ],
)
def test_bad_values_are_refused_with_a_reason(node, name, value, words):
    reason = spec(node, name).validate(value)
    assert reason is not None and words in reason
    if 'must be' in reason or 'outside' in reason:
        assert name in reason


@pytest.mark.parametrize(
    'node, name, value',
    [
        ('camera_node', 'fps', 30),  # an int where a float is wanted is fine
        ('camera_node', 'fps', 0.1),  # the bounds themselves are in range
        ('camera_node', 'fps', 120.0),
        ('camera_node', 'width', 64),
        ('camera_node', 'loop', False),
        ('camera_node', 'source', '/dev/video0'),
        ('detector_node', 'device', 'cuda'),
        ('detector_node', 'device', 'CUDA:1'),
        ('detector_node', 'imgsz', 640),
        ('detector_node', 'crop_classes', ['bottle']),
        ('classifier_node', 'fragile_threshold', 0),
    ],
)
def test_good_values_are_accepted(node, name, value):
    assert spec(node, name).validate(value) is None


def test_list_of_non_strings_is_refused_with_a_reason():
    # validate() promises "None when acceptable, else the reason": a list of numbers is not
    # acceptable
    assert spec('detector_node', 'crop_classes').validate([1, 2]) is not None


# ---- config/params.yaml -------------------------------------------------------------------------


@pytest.fixture(scope='module')
def params_file():
    with open(PARAMS_YAML) as f:
        return yaml.safe_load(f)


def test_yaml_has_one_section_a_node(params_file):
    assert set(params_file) == {f'/**/{node}' for node in NODES}
    for section in params_file.values():
        assert list(section) == ['ros__parameters']


@pytest.mark.parametrize('node', sorted(NODES))
def test_yaml_lists_exactly_the_node_parameters(params_file, node):
    values = params_file[f'/**/{node}']['ros__parameters']
    assert sorted(values) == sorted(p.name for p in NODES[node])


@pytest.mark.parametrize('node', sorted(NODES))
def test_yaml_values_are_valid(params_file, node):
    values = params_file[f'/**/{node}']['ros__parameters']
    for p in NODES[node]:
        assert p.validate(values[p.name]) is None, (node, p.name, values[p.name])


def test_a_params_file_that_is_not_one_is_refused_with_one_line(tmp_path, capsys):
    from glass_perception.core.params import check_params_file
    from glass_perception.tools import pipeline

    for text, why in (
        ('hostname-of-a-machine\n', 'not a ROS 2 parameters file'),
        ('a: [1, 2\n', r'not YAML \(line'),
        ('camera_node:\n  fps: 3\n', "'camera_node' has no ros__parameters mapping"),
    ):
        path = tmp_path / 'p.yaml'
        path.write_text(text)
        with pytest.raises(ValueError, match=why):
            check_params_file(path)
    assert pipeline.main(['--params', '/etc/hostname', '--frames', '1']) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ['glass-pipeline: /etc/hostname: not a ROS 2 parameters file: a mapping of node '
                   'names to {ros__parameters: {...}}']  # fmt: skip


def test_a_misspelt_key_is_named_with_the_closest_declared_one(tmp_path):
    from glass_perception.core.params import check_params_file

    path = tmp_path / 'p.yaml'
    path.write_text(
        '/**/detector_node:\n  ros__parameters:\n    cnof: 0.5\n    iou: 0.4\n'
        '/**:\n  ros__parameters:\n    use_sim_time: false\n'
        'some_other_node:\n  ros__parameters:\n    anything: 1\n'
    )
    assert check_params_file(path) == [
        "detector_node: 'cnof' is not a parameter of detector_node and is ignored; "
        "did you mean 'conf'?"
    ]
    from glass_perception.core.paths import PACKAGE_DIR

    shipped = PACKAGE_DIR.parent / 'config' / 'params.yaml'
    assert check_params_file(shipped) == []  # the shipped file names only declared parameters
