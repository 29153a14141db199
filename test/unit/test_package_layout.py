"""The ROS package's files agree with each other: package.xml, setup.py, launch file, config."""

from __future__ import annotations

import ast
from pathlib import Path
import re
import xml.etree.ElementTree as ET

from glass_perception.core.params import NODES
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _entry_points() -> dict[str, str]:
    text = (ROOT / 'setup.py').read_text()
    return dict(re.findall(r"['\"]([\w-]+) = (glass_perception[\w.]+:main)['\"]", text))


def test_package_xml_is_format_3_with_real_dependencies():
    root = ET.parse(ROOT / 'package.xml').getroot()
    assert root.get('format') == '3'
    assert root.findtext('name') == 'glass_perception'
    assert root.findtext('export/build_type') == 'ament_python'
    deps = {e.text for e in root if e.tag.endswith('depend')}
    for needed in (
        'rclpy',
        'sensor_msgs',
        'std_msgs',
        'vision_msgs',
        'launch_ros',
        'python3-numpy',
        'python3-opencv',
    ):
        assert needed in deps, needed
    assert root.findtext('license') == 'AGPL-3.0-only'


def test_every_node_has_a_console_entry_point_that_imports():
    import importlib

    eps = _entry_points()
    for node in NODES:
        assert node in eps, f'setup.py has no console script for {node}'
        module, func = eps[node].split(':')
        assert callable(getattr(importlib.import_module(module), func))
    for tool in (
        'glass-pipeline',
        'glass-echo',
        'glass-train',
        'glass-synth',
        'glass-evaluate',
        'glass-train-detector',
        'glass-export-detector',
        'glass-compare-models',
    ):
        module, func = _entry_points()[tool].split(':')
        assert callable(getattr(importlib.import_module(module), func))


def test_ament_resource_marker_and_setup_cfg_script_dir():
    assert (ROOT / 'resource' / 'glass_perception').is_file()
    cfg = (ROOT / 'setup.cfg').read_text()
    assert 'script_dir=$base/lib/glass_perception' in cfg  # where `ros2 run` looks


def test_launch_file_starts_the_nodes_with_the_declared_arguments():
    from glass_perception.core.launch_plan import NODES as LAUNCH_NODES
    from glass_perception.tools.pipeline import NODES as RUNNER_NODES

    tree = ast.parse((ROOT / 'launch' / 'pipeline.launch.py').read_text())
    arguments = next(
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Assign) and getattr(n.targets[0], 'id', '') == 'ARGUMENTS'
    )
    declared = set(ast.literal_eval(arguments.value))
    wanted = {'source', 'params_file', 'device', 'detector_model', 'classifier_model', 'namespace'}
    assert wanted | {'rviz'} <= declared
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    # the large-image Fast DDS profile, as glass-pipeline sets it; the nodes from the plan
    assert {'glass_perception.core.dds', 'glass_perception.core.launch_plan'} <= imported
    assert (ROOT / 'config' / 'glass_perception.rviz').is_file()
    # the launch file and glass-pipeline start the same executables, those params.yaml configures
    # (and the optional Foxglove bridge, off by default in both)
    always = tuple(n for n in NODES if n != 'foxglove_node')
    assert tuple(LAUNCH_NODES) == tuple(RUNNER_NODES) == always
    assert 'foxglove' in declared


def test_rviz_config_shows_debug_image_crops_and_3d_markers():
    cfg = yaml.safe_load((ROOT / 'config' / 'glass_perception.rviz').read_text())
    topics = {
        d['Topic']['Value'] for d in cfg['Visualization Manager']['Displays'] if 'Topic' in d
    }
    assert topics == {'glass/debug_image', 'glass/crops', 'glass/markers'}


def test_vision_msgs_copy_cannot_shadow_a_distro_package():
    assert (ROOT / 'interfaces' / 'COLCON_IGNORE').is_file()
    root = ET.parse(ROOT / 'interfaces' / 'vision_msgs' / 'package.xml').getroot()
    assert root.findtext('name') == 'vision_msgs' and root.findtext('version') == '4.1.1'


def test_shipped_models_are_installed_with_the_package_and_small():
    from glass_perception.core import paths

    for f in (
        paths.DEFAULT_DETECTOR,
        paths.DEFAULT_CLASSIFIER,
        paths.DEFAULT_CLASSIFIER.with_suffix('.json'),
        paths.DEFAULT_DETECTOR_WEIGHTS,
        paths.DEFAULT_CLASSIFIER_CHECKPOINT,
    ):
        assert f.is_file(), f
        assert f.stat().st_size <= 10 * 2**20, f
    assert paths.DEFAULT_DETECTOR.suffix == paths.DEFAULT_CLASSIFIER.suffix == '.onnx'
    text = (ROOT / 'setup.py').read_text()
    for pattern in ('models/*.pt', 'models/*.onnx', 'models/*.safetensors', 'models/*.json'):
        assert pattern in text
