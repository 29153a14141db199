"""
camera_node: publishes camera/image_raw and camera/camera_info (sensor-data QoS).

With a ``synthetic`` source it also publishes the scenes' ground truth on camera/ground_truth
(vision_msgs/Detection2DArray, same header as the image; class_id is cup, beer_glass, soju_glass,
bottle or bowl) so tests and the demo can score the pipeline end to end.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header
from tf2_msgs.msg import TFMessage
from vision_msgs.msg import Detection2DArray, Detection3DArray

from .common import (
    fastdds_transport_note,
    GlassNode,
    RESULT_QOS,
    run,
    SENSOR_PUB_QOS,
    StartupError,
    TF_QOS,
)
from ..core import messages
from ..core.image_codec import (
    compress_bgr,
    compress_depth_mm,
    DEPTH_FORMAT,
    fill_image,
    JPEG_FORMAT,
)
from ..core.sources import BadFrame, EndOfSource, open_source, SourceError

# Seconds the first frame waits for the frame topics' readers in the graph to match
FIRST_FRAME_MATCH_S = 2.0


class CameraNode(GlassNode):
    def __init__(self):
        super().__init__('camera_node')
        self.source_spec = self.param('source')
        self.pub_image = self.create_publisher(Image, 'camera/image_raw', SENSOR_PUB_QOS)
        self.pub_info = self.create_publisher(CameraInfo, 'camera/camera_info', SENSOR_PUB_QOS)
        self.pub_depth = self.create_publisher(Image, 'camera/depth/image_raw', SENSOR_PUB_QOS)
        self.pub_depth_info = self.create_publisher(
            CameraInfo, 'camera/depth/camera_info', SENSOR_PUB_QOS
        )
        self.pub_jpeg = self.pub_png = None
        if self.param('publish_compressed'):  # image_transport's companions, for a network hop
            self.pub_jpeg = self.create_publisher(
                CompressedImage, 'camera/image_raw/compressed', SENSOR_PUB_QOS
            )
            self.pub_png = self.create_publisher(
                CompressedImage, 'camera/depth/image_raw/compressedDepth', SENSOR_PUB_QOS
            )
        self.pub_truth = self.pub_truth_3d = None
        # a sequence's camera poses, as an arm's TF tree gives them (tf_parent_frame -> frame_id)
        self.pub_tf = self.create_publisher(TFMessage, '/tf', TF_QOS)
        if self.source_spec.strip().startswith('synthetic'):
            self.pub_truth = self.create_publisher(
                Detection2DArray, 'camera/ground_truth', RESULT_QOS
            )
            self.pub_truth_3d = self.create_publisher(
                Detection3DArray, 'camera/ground_truth_3d', RESULT_QOS
            )
        self.source = None
        self.retry_delay = self.param('retry_initial_s')
        self.next_open = 0.0
        self.published = 0
        self.reconnects = 0
        self._last_error = ''
        self._matching_since = None  # first frame held until the readers seen have matched
        self._open_at_startup()
        self.timer = self.create_timer(self._period(), self._tick)
        self.on_change(self._changed)
        self.start_health(f'source {self.source_spec}', self.source_spec)
        note = fastdds_transport_note()
        if note:
            self.get_logger().warning(note)
        self.get_logger().info(
            f'publishing {self.source_spec} on {self.pub_image.topic_name} '
            f'at {self.param("fps")} fps'
        )

    def _period(self) -> float:
        """Return the timer's period: 1 / fps, or 5 ms for a bag (its frames say when)."""
        return 0.005 if self.source_spec.strip().startswith('bag:') else 1.0 / self.param('fps')

    def _open_at_startup(self) -> None:
        """
        Open the source, retrying a device for up to open_timeout_s.

        Raise a StartupError if it never opens.
        """
        deadline = time.monotonic() + self.param('open_timeout_s')
        is_device = self.source_spec.startswith('/dev/video') or self.source_spec.isdigit()
        self._open()
        while self.source is None and is_device and time.monotonic() < deadline:
            time.sleep(max(0.0, min(self.next_open, deadline) - time.monotonic()))
            self._open()
        if self.source is None:
            what = (
                f'; no camera opened within open_timeout_s={self.param("open_timeout_s")} s; '
                'check the device exists and is not in use (v4l2-ctl --list-devices)'
                if is_device
                else ''
            )
            raise StartupError(f"source '{self.source_spec}': {self._last_error}{what}")

    def health_extra(self) -> dict[str, str]:
        return {
            'source': self.source_spec,
            'state': 'open' if self.source is not None else 'reopening',
            'reconnects': str(self.reconnects),
        }

    def _open(self) -> None:
        try:
            self.source = open_source(
                self.source_spec,
                self.param('width'),
                self.param('height'),
                self.param('seed'),
                self.param('loop'),
                bag_topics=(
                    self.param('bag_color_topic'),
                    self.param('bag_depth_topic'),
                    self.param('bag_info_topic'),
                ),
                rate=self.param('rate'),
            )
            self.retry_delay = self.param('retry_initial_s')
            self.get_logger().info(f'opened {self.source.kind} source {self.source_spec}')
            if self.monitor is not None:
                self.reconnects += 1
                self.monitor.fault('')
        except SourceError as e:
            self._last_error = str(e)
            self.source = None
            self.next_open = time.monotonic() + self.retry_delay
            self.get_logger().warning(f'{e}; retrying in {self.retry_delay:.1f} s')
            self.retry_delay = min(self.retry_delay * 2.0, self.param('retry_max_s'))

    def _readers_matched(self, now: float) -> bool:
        """
        Whether the first frame may go: every reader of the frame topics in the graph has matched.

        A subscription is in the graph before its publisher has matched it; a first frame sent in
        between is lost to it (a localizer's first frame without depth). Held at most
        ``FIRST_FRAME_MATCH_S``: a reader with incompatible QoS never matches.
        """
        pubs = (self.pub_image, self.pub_info, self.pub_depth)
        if all(p.get_subscription_count() >= self.count_subscribers(p.topic_name) for p in pubs):
            return True
        if self._matching_since is None:
            self._matching_since = now
        return now - self._matching_since >= FIRST_FRAME_MATCH_S

    def _changed(self, name, value) -> None:
        if name == 'fps':
            self.timer.cancel()
            self.destroy_timer(self.timer)
            self.timer = self.create_timer(self._period(), self._tick)

    def _tick(self) -> None:
        if not self.param('enabled'):
            return
        if self.source is None:
            if time.monotonic() >= self.next_open:
                self._open()
            return
        started = time.monotonic()
        if self.published == 0 and not self._readers_matched(started):
            return
        try:
            if hasattr(self.source, 'ready') and not self.source.ready():
                return  # a recording: its next frame is not due yet
            frame = self.source.read()
        except BadFrame as e:
            self.reject(f'{e}; skipped')
            return
        except EndOfSource as e:
            self.get_logger().info(f'{e}; stopping (loop is false)')
            self.timer.cancel()
            raise SystemExit(0)
        except SourceError as e:
            self.get_logger().warning(f'{e}; reopening in {self.retry_delay:.1f} s')
            self.monitor.fault(f'source lost: {e}; reopening')
            self.source.close()
            self.source = None
            self.next_open = time.monotonic() + self.retry_delay
            return
        self.monitor.count('received')
        header = Header(frame_id=frame.frame_id or self.param('frame_id'))
        if frame.stamp_ns is not None:  # a recording's header, as recorded
            header.stamp.sec, header.stamp.nanosec = divmod(frame.stamp_ns, 1_000_000_000)
        else:
            header.stamp = self.get_clock().now().to_msg()
        img = Image(header=header)
        fill_image(img, frame.image, 'bgr8')
        self.pub_image.publish(img)
        if self.pub_jpeg is not None:
            self.pub_jpeg.publish(
                CompressedImage(
                    header=header,
                    format=JPEG_FORMAT,
                    data=compress_bgr(frame.image, self.param('jpeg_quality')),
                )
            )
        if frame.camera is not None:
            info = calibrated_camera_info(header, frame.camera)
        else:
            info = camera_info(header, img.width, img.height)
        self.pub_info.publish(info)
        if frame.camera_pose is not None and self.param('tf_parent_frame'):
            self.pub_tf.publish(
                TFMessage(
                    transforms=[
                        messages.camera_transform(
                            header, self.param('tf_parent_frame'), frame.camera_pose
                        )
                    ]
                )
            )
        if frame.depth is not None:
            depth = Image(header=header)
            fill_image(depth, frame.depth, '16UC1')
            self.pub_depth.publish(depth)
            if self.pub_png is not None:
                self.pub_png.publish(
                    CompressedImage(
                        header=header, format=DEPTH_FORMAT, data=compress_depth_mm(frame.depth)
                    )
                )
            self.pub_depth_info.publish(info)
        if self.pub_truth_3d is not None and frame.truth_3d is not None:
            self.pub_truth_3d.publish(
                messages.detection3d_array(
                    header, [messages.truth_detection3d(header, o) for o in frame.truth_3d]
                )
            )
        if self.pub_truth is not None and frame.truth is not None:
            dets = [
                messages.detection(
                    header,
                    o.box,
                    [(o.kind, 1.0)],
                    det_id=o.variant if o.track_id is None else f'truth-{o.track_id}',
                )
                for o in frame.truth
            ]
            self.pub_truth.publish(messages.detection_array(header, dets))
        self.published += 1
        self.record(header, started)

    def close(self) -> None:
        if self.source is not None:
            self.source.close()


def camera_info(header, width: int, height: int) -> CameraInfo:
    """
    Return a nominal pinhole model (about 53 degrees horizontal field of view), no distortion.

    Uncalibrated: replace it with your camera driver's calibrated camera_info for geometry.
    """
    info = CameraInfo(header=header, width=width, height=height, distortion_model='plumb_bob')
    f, cx, cy = float(width), (width - 1) / 2.0, (height - 1) / 2.0
    info.d = [0.0] * 5
    info.k = [f, 0.0, cx, 0.0, f, cy, 0.0, 0.0, 1.0]
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    info.p = [f, 0.0, cx, 0.0, 0.0, f, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return info


def calibrated_camera_info(header, camera) -> CameraInfo:
    """Return a core.camera_model.Intrinsics as CameraInfo (K, D, R = I, P = [K | 0])."""
    info = CameraInfo(header=header, width=camera.width, height=camera.height)
    info.distortion_model = camera.distortion_model or 'plumb_bob'
    info.d = list(camera.d) if camera.d else [0.0] * 5
    k = camera.matrix()
    info.k = [float(v) for v in k.ravel()]
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    info.p = [float(v) for v in np.hstack([k, np.zeros((3, 1))]).ravel()]
    return info


def main(args=None) -> int:
    return run(CameraNode, 'camera_node', args)


if __name__ == '__main__':
    sys.exit(main())
