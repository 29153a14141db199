"""
glass-echo: print glass/classifications (or another Detection2DArray topic) readably.

The `ros2 topic echo /glass/classifications` of machines without the ros2 command.

  glass-echo                       # until Ctrl-C
  glass-echo --topic glass/fragile --count 5
"""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='glass-echo',
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        '--topic',
        default='glass/classifications',
        help='the topic to print, relative to --namespace (default glass/classifications)',
    )
    p.add_argument('--namespace', default='', help="the pipeline's namespace (default: none)")
    p.add_argument(
        '--count', type=int, default=0, help='exit after this many messages (0: run on)'
    )
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)

    import rclpy
    from rclpy.executors import ExternalShutdownException
    from vision_msgs.msg import Detection2DArray

    from ..core.messages import format_detections
    from ..nodes.common import RESULT_QOS

    rclpy.init()
    node = rclpy.create_node('glass_echo', namespace=args.namespace or None)
    seen = [0]

    def on_msg(msg):
        print(format_detections(msg), flush=True)
        seen[0] += 1

    node.create_subscription(Detection2DArray, args.topic, on_msg, RESULT_QOS)
    try:
        while rclpy.ok() and (not args.count or seen[0] < args.count):
            rclpy.spin_once(node, timeout_sec=0.2)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
