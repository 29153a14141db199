"""
glass-pipeline --record: the camera's topics and every output of the pipeline into a ROS 2 bag.

Raw subscriptions (rclpy hands over the CDR bytes as they came over DDS; nothing is deserialised
or serialised again) written by core.bags.BagWriter (rosbags) with ROS 2 message definitions, so
``ros2 bag play``, Foxglove and the camera node's ``bag:`` source read the file. Each message is
logged at its arrival time here; its header keeps the camera's stamp.
"""

from __future__ import annotations

from pathlib import Path
import time

#: (topic relative to the pipeline's namespace, type, QoS kind) of everything recorded
TOPICS = (
    ('camera/image_raw', 'sensor_msgs/msg/Image', 'image'),
    ('camera/camera_info', 'sensor_msgs/msg/CameraInfo', 'image'),
    ('camera/depth/image_raw', 'sensor_msgs/msg/Image', 'image'),
    ('camera/depth/camera_info', 'sensor_msgs/msg/CameraInfo', 'image'),
    ('camera/ground_truth', 'vision_msgs/msg/Detection2DArray', 'result'),
    ('camera/ground_truth_3d', 'vision_msgs/msg/Detection3DArray', 'result'),
    ('glass/detections', 'vision_msgs/msg/Detection2DArray', 'result'),
    ('glass/classifications', 'vision_msgs/msg/Detection2DArray', 'result'),
    ('glass/fragile', 'vision_msgs/msg/Detection2DArray', 'result'),
    ('glass/detections_3d', 'vision_msgs/msg/Detection3DArray', 'result'),
    ('glass/fragile_3d', 'vision_msgs/msg/Detection3DArray', 'result'),
    ('glass/markers', 'visualization_msgs/msg/MarkerArray', 'result'),
    ('glass/debug_image', 'sensor_msgs/msg/Image', 'image'),
    ('glass/label_info', 'vision_msgs/msg/LabelInfo', 'latched'),
    ('/diagnostics', 'diagnostic_msgs/msg/DiagnosticArray', 'diagnostics'),
    ('/tf', 'tf2_msgs/msg/TFMessage', 'tf'),
)


def message_class(msgtype: str):
    """Return the rclpy message class of 'pkg/msg/Name'."""
    import importlib

    package, _, name = msgtype.split('/')
    return getattr(importlib.import_module(f'{package}.msg'), name)


class Recorder:
    """Record TOPICS seen by ``node`` into ``path`` (core.bags.BagWriter) until closed."""

    def __init__(self, node, path: Path):
        from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

        from ..core.bags import BagWriter
        from ..nodes.common import DIAGNOSTICS_QOS, LATCHED_QOS, RESULT_QOS, TF_QOS

        # images as camera drivers publish them (best effort), with room for a slow write
        images = QoSProfile(
            reliability=ReliabilityPolicy.BEST_EFFORT, history=HistoryPolicy.KEEP_LAST, depth=10
        )
        qos = {
            'image': images,
            'result': RESULT_QOS,
            'latched': LATCHED_QOS,
            'diagnostics': DIAGNOSTICS_QOS,
            'tf': TF_QOS,
        }
        self.path = Path(path)
        self.writer = BagWriter(self.path)
        self.counts: dict[str, int] = {}
        self.subscriptions = []
        for topic, msgtype, kind in TOPICS:
            sub = node.create_subscription(
                message_class(msgtype),
                topic,
                self._writer_of(msgtype),
                qos[kind],
                raw=True,
            )
            self.subscriptions.append(sub)

    def _writer_of(self, msgtype: str):
        """Return the callback of the subscription about to be made (raw ones get bytes only)."""
        index = len(self.subscriptions)

        def on_message(data: bytes) -> None:
            topic = self.subscriptions[index].topic_name
            self.writer.write_raw(topic, msgtype, time.time_ns(), data)
            self.counts[topic] = self.counts.get(topic, 0) + 1

        return on_message

    def close(self) -> dict[str, int]:
        """Finish the bag; return the messages written per topic."""
        self.writer.close()
        return dict(self.counts)
