"""The ROS 2 nodes: thin adapters around glass_perception.core."""

import signal
import sys

# A Ctrl-C or SIGTERM while a node is still importing torch/Ultralytics (seconds) ends it quietly
# with exit code 0; rclpy.init() then installs its own handlers for the running node.
signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
