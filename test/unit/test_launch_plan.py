"""
pipeline.launch.py's decisions: glass_perception.core.launch_plan, and the launch file itself.

The ament index here is real: a temporary prefix with or without an rviz2 marker, found through
AMENT_PREFIX_PATH as ``ros2 launch`` finds packages on a robot.
"""

import importlib.util
from pathlib import Path

from glass_perception.core.launch_plan import flag, LaunchRefused, NODES, plan
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _prefix(tmp_path: Path, *packages: str) -> Path:
    """Make a prefix whose ament index lists ``packages``, with glass_perception's share."""
    index = tmp_path / 'share' / 'ament_index' / 'resource_index' / 'packages'
    index.mkdir(parents=True)
    for name in packages:
        (index / name).write_text('')
    share = tmp_path / 'share' / 'glass_perception'
    (share / 'config').mkdir(parents=True)
    for f in ('params.yaml', 'glass_perception.rviz', 'fastdds_large_images.xml'):
        (share / 'config' / f).write_bytes((ROOT / 'config' / f).read_bytes())
    return tmp_path


@pytest.fixture
def headless(tmp_path, monkeypatch):
    """Return the share folder of a robot with glass_perception and no rviz2."""
    monkeypatch.setenv('AMENT_PREFIX_PATH', str(_prefix(tmp_path, 'glass_perception')))
    return tmp_path / 'share' / 'glass_perception'


def test_rviz_without_rviz2_is_refused_before_anything_starts(headless):
    with pytest.raises(LaunchRefused) as info:
        plan({'rviz': 'true'}, headless)
    text = str(info.value)
    assert '\n' not in text
    assert "'rviz2' is not installed" in text and 'nothing was started' in text
    assert 'rviz:=false' in text and 'glass_perception.rviz' in text


def test_rviz_with_rviz2_installed_adds_it_last(tmp_path, monkeypatch):
    monkeypatch.setenv('AMENT_PREFIX_PATH', str(_prefix(tmp_path, 'glass_perception', 'rviz2')))
    share = tmp_path / 'share' / 'glass_perception'
    specs = plan({'rviz': 'True', 'namespace': 'left'}, share)
    assert [s.executable for s in specs] == [*NODES, 'rviz2']
    assert specs[-1].arguments == ['-d', str(share / 'config' / 'glass_perception.rviz')]
    assert {s.namespace for s in specs} == {'left'}


def test_without_rviz_the_index_is_not_asked(headless):
    def never(name):
        raise AssertionError(f'looked up {name}')

    specs = plan({'rviz': 'false'}, headless, installed=never)
    assert [s.executable for s in specs] == list(NODES)


def test_arguments_become_per_node_overrides_and_empty_ones_keep_the_params_file(headless):
    specs = plan(
        {'source': '/dev/video0', 'device': 'cuda:0', 'detector_model': 'yolo11n.pt', 'rviz': ''},
        headless,
    )
    by_name = {s.name: s for s in specs}
    params = str(headless / 'config' / 'params.yaml')
    assert by_name['camera_node'].parameters == [params, {'source': '/dev/video0'}]
    assert by_name['detector_node'].parameters == [
        params,
        {'device': 'cuda:0', 'model': 'yolo11n.pt'},
    ]
    assert by_name['classifier_node'].parameters == [params, {'device': 'cuda:0'}]
    assert by_name['overlay_node'].parameters == [params, {}]
    mine = plan({'params_file': '/tmp/mine.yaml'}, headless)
    assert {s.parameters[0] for s in mine} == {'/tmp/mine.yaml'}


def test_localizer_false_starts_the_2d_pipeline_only(headless):
    specs = plan({'localizer': 'false'}, headless)
    assert [s.executable for s in specs] == [n for n in NODES if n != 'localizer_node']
    assert 'localizer_node' in [s.executable for s in plan({}, headless)]


def test_foxglove_is_off_by_default_and_one_more_node_when_asked(headless):
    assert 'foxglove_node' not in [s.executable for s in plan({}, headless)]
    specs = plan({'foxglove': 'true', 'namespace': 'left'}, headless)
    assert [s.executable for s in specs] == [*NODES, 'foxglove_node']
    assert specs[-1].namespace == 'left' and specs[-1].parameters[0].endswith('params.yaml')


@pytest.mark.parametrize('bad', ['ture', 'maybe', '2'])
def test_a_boolean_argument_that_is_not_one_is_refused(headless, bad):
    with pytest.raises(LaunchRefused, match=f"rviz:='{bad}' is not a boolean"):
        plan({'rviz': bad}, headless)
    assert flag('x', ' YES ') is True and flag('x', 'off') is False


def test_the_launch_file_refuses_rviz_without_rviz2(headless):
    """Run the launch description's own function, where ``launch`` is installed (a robot)."""
    # (the repository's own launch/ folder makes a bare `import launch` succeed: ask for its parts)
    pytest.importorskip('launch.actions')
    pytest.importorskip('launch_ros.actions')
    from launch import LaunchContext
    from launch.actions import SetLaunchConfiguration

    path = ROOT / 'launch' / 'pipeline.launch.py'
    spec = importlib.util.spec_from_file_location('pipeline_launch', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    context = LaunchContext()
    for name, (default, _) in module.ARGUMENTS.items():
        SetLaunchConfiguration(name, default).execute(context)
    SetLaunchConfiguration('rviz', 'true').execute(context)
    with pytest.raises(LaunchRefused):
        module._pipeline(context)
    SetLaunchConfiguration('rviz', 'false').execute(context)
    actions = module._pipeline(context)
    assert sum(type(a).__name__ == 'Node' for a in actions) == len(NODES)
    assert description.entities  # the description itself builds
