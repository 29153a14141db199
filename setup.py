from glob import glob

from setuptools import find_packages, setup

package_name = 'glass_perception'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    package_data={
        package_name: [
            'models/*.pt',
            'models/*.onnx',
            'models/*.safetensors',
            'models/*.json',
            'models/*.md',
            'data/scenes/*.json',
            'data/scenes/*.md',
            'data/real/*.json',
            'data/real/*.md',
            'data/scenes/*.yaml',
            'data/scenes/color/*.jpg',
            'data/scenes/depth/*.png',
            'data/sequences/*/*.json',
            'data/sequences/*/*.yaml',
            'data/sequences/*/color/*.jpg',
            'data/sequences/*/depth/*.png',
        ]
    },
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/launch', glob('launch/*.launch.py')),
        (
            'share/' + package_name + '/config',
            glob('config/*.yaml') + glob('config/*.rviz') + glob('config/*.xml'),
        ),
    ],
    install_requires=['setuptools'],
    zip_safe=False,
    maintainer='glass_perception maintainers',
    maintainer_email='maintainers@glass-perception.dev',
    description=(
        'Fragile-glassware perception for ROS 2: '
        'YOLO detection + MobileNetV2 glass classification.'
    ),
    license='AGPL-3.0-only',
    entry_points={
        'console_scripts': [
            # nodes (ros2 run glass_perception <name>)
            'camera_node = glass_perception.nodes.camera_node:main',
            'detector_node = glass_perception.nodes.detector_node:main',
            'classifier_node = glass_perception.nodes.classifier_node:main',
            'overlay_node = glass_perception.nodes.overlay_node:main',
            'localizer_node = glass_perception.nodes.localizer_node:main',
            'foxglove_node = glass_perception.nodes.foxglove_node:main',
            # tools
            'glass-pipeline = glass_perception.tools.pipeline:main',
            'glass-echo = glass_perception.tools.echo:main',
            'glass-fuzz = glass_perception.tools.fuzz:main',
            'glass-soak = glass_perception.tools.soak:main',
            'glass-synth = glass_perception.tools.synth:main',
            'glass-train = glass_perception.tools.train:main',
            'glass-evaluate = glass_perception.tools.evaluate:main',
            'glass-train-detector = glass_perception.tools.train_detector:main',
            'glass-export-detector = glass_perception.tools.export_detector:main',
            'glass-export-classifier = glass_perception.tools.export_classifier:main',
            'glass-compare-models = glass_perception.tools.compare_models:main',
            'glass-evaluate-3d = glass_perception.tools.evaluate_3d:main',
            'glass-evaluate-detector = glass_perception.tools.evaluate_detector:main',
            'glass-evaluate-tracking = glass_perception.tools.evaluate_tracking:main',
            'glass-fit-sizes = glass_perception.tools.fit_sizes:main',
            'glass-benchmark-runtime = glass_perception.tools.benchmark_runtime:main',
            'glass-pretrained = glass_perception.tools.pretrained:main',
            'glass-import-rgbd = glass_perception.tools.import_rgbd:main',
            'glass-real-crops = glass_perception.tools.real_crops:main',
            'glass-bag = glass_perception.tools.bag:main',
        ],
    },
)
