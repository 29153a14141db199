"""Start the glass_perception pipeline: camera, detector, classifier and overlay (and rviz2).

  ros2 launch glass_perception pipeline.launch.py
  ros2 launch glass_perception pipeline.launch.py source:=/dev/video0 device:=cuda:0 rviz:=true
  ros2 launch glass_perception pipeline.launch.py namespace:=left params_file:=/path/my_params.yaml

Launch arguments left empty keep what the params file says. Fast DDS loses camera-sized
best-effort images between processes with its default transports, so these nodes get
FASTDDS_DEFAULT_PROFILES_FILE=<share>/config/fastdds_large_images.xml unless you set a Fast DDS
profile or FASTDDS_BUILTIN_TRANSPORTS yourself (see the README, "DDS and large images").
"""

import os

from ament_index_python.packages import get_package_share_directory
from glass_perception.core.dds import image_transport_env
from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription

PACKAGE = 'glass_perception'
NODES = ('camera_node', 'detector_node', 'classifier_node', 'overlay_node')


def _transport_env(context):
    config = os.path.join(get_package_share_directory(PACKAGE), 'config')
    return [
        SetEnvironmentVariable(k, v) for k, v in image_transport_env(os.environ, config).items()
    ]


def _nodes(context):
    share = get_package_share_directory(PACKAGE)
    value = {
        name: LaunchConfiguration(name).perform(context)
        for name in (
            'params_file',
            'namespace',
            'source',
            'device',
            'detector_model',
            'classifier_model',
        )
    }
    params_file = value['params_file'] or os.path.join(share, 'config', 'params.yaml')
    overrides = {name: {} for name in NODES}
    if value['source']:
        overrides['camera_node']['source'] = value['source']
    if value['device']:
        overrides['detector_node']['device'] = value['device']
        overrides['classifier_node']['device'] = value['device']
    if value['detector_model']:
        overrides['detector_node']['model'] = value['detector_model']
    if value['classifier_model']:
        overrides['classifier_node']['model'] = value['classifier_model']
    actions = [
        Node(
            package=PACKAGE,
            executable=name,
            name=name,
            namespace=value['namespace'],
            parameters=[params_file, overrides[name]],
            output='screen',
            emulate_tty=True,
        )
        for name in NODES
    ]
    actions.append(
        Node(
            package='rviz2',
            executable='rviz2',
            name='rviz2',
            namespace=value['namespace'],
            arguments=['-d', os.path.join(share, 'config', 'glass_perception.rviz')],
            condition=IfCondition(LaunchConfiguration('rviz')),
        )
    )
    return actions


def generate_launch_description():
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                'source',
                default_value='',
                description='camera source: synthetic (shipped path-traced scenes), synthetic:fast, '
                '0, /dev/video0, a video, a folder or a glob',
            ),
            DeclareLaunchArgument(
                'params_file',
                default_value='',
                description="parameters YAML (default: the package's config/params.yaml)",
            ),
            DeclareLaunchArgument(
                'device', default_value='', description='cpu, cuda or cuda:N for both models'
            ),
            DeclareLaunchArgument(
                'detector_model',
                default_value='',
                description='YOLO weights path or name (yolo11n.pt = COCO, downloaded once)',
            ),
            DeclareLaunchArgument(
                'classifier_model',
                default_value='',
                description='classifier checkpoint (.safetensors with its .json)',
            ),
            DeclareLaunchArgument(
                'namespace', default_value='', description='namespace of all nodes and topics'
            ),
            DeclareLaunchArgument(
                'rviz', default_value='false', description='open rviz2 on the debug image'
            ),
            OpaqueFunction(function=_transport_env),
            OpaqueFunction(function=_nodes),
        ]
    )
