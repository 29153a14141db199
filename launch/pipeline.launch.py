"""
Start the glass_perception pipeline: camera, detector, classifier, overlay, localizer (rviz2).

  ros2 launch glass_perception pipeline.launch.py
  ros2 launch glass_perception pipeline.launch.py source:=/dev/video0 device:=cuda:0 rviz:=true
  ros2 launch glass_perception pipeline.launch.py namespace:=left params_file:=/path/my_params.yaml
  ros2 launch glass_perception pipeline.launch.py localizer:=false      # 2D only
  ros2 launch glass_perception pipeline.launch.py foxglove:=true    # + Foxglove, ws://robot:8765

Launch arguments left empty keep what the params file says. ``rviz:=true`` on a machine without
rviz2 starts nothing and exits 1 with one line saying so. Fast DDS loses camera-sized best-effort
images between processes with its default transports, so these nodes get
FASTDDS_DEFAULT_PROFILES_FILE=<share>/config/fastdds_large_images.xml unless you set a Fast DDS
profile or FASTDDS_BUILTIN_TRANSPORTS yourself (docs/troubleshooting.md, "DDS and large images").
"""

import os
from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from glass_perception.core.dds import image_transport_env
from glass_perception.core.launch_plan import PACKAGE, plan
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

ARGUMENTS = {
    'source': (
        '',
        'camera source: synthetic (shipped path-traced scenes), synthetic:fast, rgbd:DIR, '
        'bag:PATH (a ROS 2 bag), 0, /dev/video0, a video, a folder or a glob',
    ),
    'params_file': ('', "parameters YAML (default: the package's config/params.yaml)"),
    'device': ('', 'cpu, cuda or cuda:N for both models'),
    'detector_model': ('', 'YOLO weights path or name (yolo11n.pt = COCO, downloaded once)'),
    'classifier_model': ('', 'classifier checkpoint (.safetensors with its .json)'),
    'namespace': ('', 'namespace of all nodes and topics'),
    'localizer': ('true', 'start localizer_node (3D from camera/depth/image_raw)'),
    'rviz': ('false', 'open rviz2 on the debug image and the 3D markers (needs rviz2)'),
    'foxglove': (
        'false',
        'serve the debug image, the 3D glasses and /diagnostics to Foxglove over WebSocket '
        '(foxglove_node, port 8765; needs pip install foxglove-sdk)',
    ),
}


def _pipeline(context):
    """Decide everything first (plan raises before any action exists), then build the actions."""
    share = Path(get_package_share_directory(PACKAGE))
    values = {name: LaunchConfiguration(name).perform(context) for name in ARGUMENTS}
    specs = plan(values, share)
    env = image_transport_env(os.environ, str(share / 'config'))
    actions = [SetEnvironmentVariable(k, v) for k, v in env.items()]
    for s in specs:
        actions.append(
            Node(
                package=s.package,
                executable=s.executable,
                name=s.name,
                namespace=s.namespace,
                parameters=s.parameters,
                arguments=s.arguments,
                output='screen',
                emulate_tty=True,
            )
        )
    return actions


def generate_launch_description():
    """Declare the arguments; one OpaqueFunction plans and starts the nodes."""
    declared = [
        DeclareLaunchArgument(name, default_value=default, description=text)
        for name, (default, text) in ARGUMENTS.items()
    ]
    return LaunchDescription([*declared, OpaqueFunction(function=_pipeline)])
