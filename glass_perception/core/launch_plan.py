"""
What ``pipeline.launch.py`` starts, decided before anything is started.

The launch file reads its arguments, calls :func:`plan` and turns each :class:`NodeSpec` into a
``launch_ros`` Node. Everything that can refuse a launch (a bad boolean, rviz2 asked for on a
robot that has none) raises :class:`LaunchRefused` here, while no process exists yet: ``ros2
launch`` then prints the one line and exits 1 with nothing left running.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

PACKAGE = 'glass_perception'
NODES = ('camera_node', 'detector_node', 'classifier_node', 'overlay_node', 'localizer_node')
TRUE = ('true', '1', 'yes', 'on')
FALSE = ('false', '0', 'no', 'off', '')


class LaunchRefused(RuntimeError):
    """A launch that must not start; the message is one line saying why and what to do."""


@dataclass(frozen=True)
class NodeSpec:
    """One process to start: ``launch_ros.actions.Node`` keyword arguments, as plain data."""

    package: str
    executable: str
    name: str
    namespace: str = ''
    parameters: list = field(default_factory=list)
    arguments: list = field(default_factory=list)


def package_installed(name: str) -> bool:
    """Tell whether the ament index (AMENT_PREFIX_PATH) knows package ``name``."""
    from ament_index_python.packages import get_package_prefix, PackageNotFoundError

    try:
        get_package_prefix(name)
    except PackageNotFoundError:
        return False
    return True


def flag(name: str, value: str) -> bool:
    """Parse a launch argument meant as a boolean, or refuse with the values it accepts."""
    v = value.strip().lower()
    if v in TRUE:
        return True
    if v in FALSE:
        return False
    raise LaunchRefused(f"launch argument {name}:='{value}' is not a boolean; use true or false")


def plan(
    values: Mapping[str, str],
    share: Path,
    installed: Callable[[str], bool] = package_installed,
) -> list[NodeSpec]:
    """
    Return the nodes to start for the launch arguments ``values``; raise LaunchRefused instead.

    Empty arguments keep what the params file says. ``rviz`` true needs the rviz2 package: on a
    headless robot (ros-base) the launch is refused as a whole, so it never leaves the pipeline
    running without the viewer that was asked for, nor orphaned nodes after a failed launch.
    """
    share = Path(share)
    rviz = flag('rviz', values.get('rviz', 'false'))
    if rviz and not installed('rviz2'):
        raise LaunchRefused(
            "rviz:=true, but the package 'rviz2' is not installed here (a headless robot?), so "
            'nothing was started; install ros-$ROS_DISTRO-rviz2, or launch with rviz:=false and '
            f'run rviz2 -d {share / "config" / "glass_perception.rviz"} on another machine'
        )
    params_file = values.get('params_file') or str(share / 'config' / 'params.yaml')
    overrides: dict[str, dict] = {name: {} for name in NODES}
    if values.get('source'):
        overrides['camera_node']['source'] = values['source']
    if values.get('device'):
        overrides['detector_node']['device'] = values['device']
        overrides['classifier_node']['device'] = values['device']
    if values.get('detector_model'):
        overrides['detector_node']['model'] = values['detector_model']
    if values.get('classifier_model'):
        overrides['classifier_node']['model'] = values['classifier_model']
    namespace = values.get('namespace', '')
    wanted = [
        n
        for n in NODES
        if n != 'localizer_node' or flag('localizer', values.get('localizer', 'true'))
    ]
    if flag('foxglove', values.get('foxglove', 'false')):
        wanted.append('foxglove_node')  # the live view for Foxglove, over WebSocket
        overrides['foxglove_node'] = {}
    specs = [
        NodeSpec(PACKAGE, name, name, namespace, [params_file, overrides[name]]) for name in wanted
    ]
    if rviz:
        rviz_config = str(share / 'config' / 'glass_perception.rviz')
        specs.append(NodeSpec('rviz2', 'rviz2', 'rviz2', namespace, [], ['-d', rviz_config]))
    return specs
