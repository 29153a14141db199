"""
localizer_node: glass/classifications + camera/depth/image_raw + camera/camera_info -> 3D glasses.

Publishes, with the colour image's header: glass/detections_3d (vision_msgs/Detection3DArray, one
Detection3D per classified glass, same id, fused class probabilities with pose and covariance),
glass/fragile_3d (the fragile ones, on the fused probabilities) and glass/markers
(visualization_msgs/MarkerArray for rviz2). The depth image paired with a frame's
classifications is the one whose stamp is nearest, within max_depth_skew_s. The maths is
glass_perception.core.localizer.
"""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
from sensor_msgs.msg import CameraInfo, Image
from tf2_msgs.msg import TFMessage
from vision_msgs.msg import Detection2DArray, Detection3DArray
from visualization_msgs.msg import MarkerArray

from .common import (
    GlassLifecycleNode,
    image_input,
    IMAGE_QOS,
    PAIR_QOS,
    RESULT_QOS,
    run,
    StartupError,
    TF_QOS,
    TF_STATIC_QOS,
)
from ..core import messages
from ..core.camera_model import CameraModelError, Intrinsics
from ..core.errors import ModelLoadError
from ..core.image_codec import image_to_depth, ImageError
from ..core.latest import LatestWorker
from ..core.localizer import localize_frame, Localizer, SIZE_PRIOR
from ..core.pairing import NearestStamp
from ..core.paths import DEFAULT_CLASSIFIER
from ..core.sizes import SizeModel, sizes_path
from ..core.temporal import check_ids, PositionSettings, TrackSmoothing
from ..core.tf_buffer import TransformBuffer


class LocalizerNode(GlassLifecycleNode):
    def __init__(self):
        super().__init__('localizer_node')
        self.sizes = self.localizer = self.tracks = None
        self.pub_3d = self.pub_fragile = self.pub_markers = None
        self.lock = threading.Lock()
        self.depths = NearestStamp(self.param('depth_cache_size'), self.param('max_depth_skew_s'))
        self.on_change(self._changed)
        self.camera: Intrinsics | None = None
        self.camera_error = ''
        self.last_depth: float | None = None  # monotonic arrival time of the newest depth image
        self.counts = {'surface': 0, 'size_prior': 0, 'flagged': 0, 'no_depth': 0, 'frames': 0}
        self._last_period = (0, 0)  # (frames, frames without depth) at the last health report
        self.last_note = ''
        self.tf = TransformBuffer()
        self.tf_refused = 0
        self.no_pose_frames = 0
        self.start_health(
            self.resolve_topic_name('glass/classifications'), 'localizer (unconfigured)'
        )

    def configure(self) -> None:
        path = self.param('size_model') or sizes_path(DEFAULT_CLASSIFIER)
        try:
            sizes = SizeModel.load(path)  # ModelLoadError: one line naming the file
        except ModelLoadError:
            if self.param('fusion'):
                raise
            sizes = None  # without fusion the class base ratios are all it would give
            self.get_logger().warning(f'no size model at {path}: default base/rim ratio')
        if self.param('fusion'):
            unknown = [c for c in self.param('fragile_classes') if c not in sizes.classes]
            if unknown:
                raise StartupError(
                    f'fragile_classes {unknown} are not classes of the size model {path} '
                    f'({", ".join(sizes.classes)})'
                )
        self.sizes = sizes if self.param('fusion') else None
        self.localizer = Localizer(base_ratios=sizes.base_ratio if sizes else None)
        self.tracks = TrackSmoothing(
            PositionSettings(
                walk_sigma=self.param('position_walk_sigma'),
                expiry_s=self.param('track_expiry_s'),
            ),
            self.param('fragile_release_frames'),
        )
        self.pub_3d = self.lifecycle_publisher(Detection3DArray, 'glass/detections_3d', RESULT_QOS)
        self.pub_fragile = self.lifecycle_publisher(
            Detection3DArray, 'glass/fragile_3d', RESULT_QOS
        )
        self.pub_markers = self.lifecycle_publisher(MarkerArray, 'glass/markers', RESULT_QOS)
        self.worker = LatestWorker(self._localize, self.worker_error, 'localizer')
        fusion = f'size model {self.sizes.source[:60]}' if self.sizes else 'no size fusion'
        self._health_id = fusion
        self.get_logger().info(f'localizing glass/classifications on depth; {fusion}')

    def activate(self) -> None:
        self.subs = [
            self.create_subscription(
                Detection2DArray, 'glass/classifications', self._on_classes, PAIR_QOS
            ),
            self.create_subscription(
                *image_input(self.param('image_transport'), depth=True), self._on_depth, IMAGE_QOS
            ),
            self.create_subscription(CameraInfo, 'camera/camera_info', self._on_info, IMAGE_QOS),
        ]
        if self.param('fixed_frame'):
            self.subs += [
                self.create_subscription(TFMessage, '/tf', self._on_tf, TF_QOS),
                self.create_subscription(
                    TFMessage, '/tf_static', lambda m: self._on_tf(m, True), TF_STATIC_QOS
                ),
            ]

    def cleanup(self) -> None:
        super().cleanup()
        self.sizes = self.localizer = self.tracks = None
        self.pub_3d = self.pub_fragile = self.pub_markers = None
        self._health_id = 'localizer (unconfigured)'

    def _changed(self, name, value) -> None:
        if name == 'max_depth_skew_s':
            with self.lock:
                self.depths.max_skew = float(value)

    def health_extra(self) -> dict[str, str]:
        if self.worker is not None:
            self.monitor.set_count('received', self.worker.received)
            self.monitor.set_count('dropped', self.worker.dropped)
        quiet = time.monotonic() - self.last_depth if self.last_depth is not None else None
        stale = self.param('stale_after_s')
        problems = [self.camera_error] if self.camera_error else []
        if self.active and (quiet is None or quiet > stale):
            waited = 'since start' if quiet is None else f'for {quiet:.1f} s'
            problems.append(
                f'no depth on camera/depth/image_raw {waited}: 3D results paused, 2D keeps flowing'
            )
        self.monitor.fault('; '.join(problems))
        frames, missing = self.counts['frames'], self.counts['no_depth']
        seen, lost = frames - self._last_period[0], missing - self._last_period[1]
        self._last_period = (frames, missing)
        share = lost / seen if seen else 0.0
        if seen and share > self.param('missing_depth_warn_share'):
            self.monitor.warn(
                f'{lost} of {seen} frames ({share:.0%}) since the last report had no depth image '
                f'within max_depth_skew_s: depth lost on the way (another machine? '
                'docs/distributed.md), or not stamped like the colour'
            )
        return {
            'frames_without_depth_share': f'{share:.3f}',
            'depth_quiet_s': 'never received' if quiet is None else f'{quiet:.2f}',
            'localized_on_surface': str(self.counts['surface']),
            'localized_by_size_prior': str(self.counts['size_prior']),
            'flagged': str(self.counts['flagged']),
            'frames_without_depth': str(self.counts['no_depth']),
            'note': '; '.join(problems) or self.last_note,
            'fusion': 'on' if self.sizes else 'off',
            'tracks_smoothed': str(len(self.tracks.positions.tracks)) if self.tracks else '0',
            'outliers_rejected': str(self.tracks.positions.rejected) if self.tracks else '0',
            'frames_without_camera_pose': str(self.no_pose_frames),
            'transforms_refused': str(self.tf_refused),
            'lifecycle_state': self.lifecycle_state(),
        }

    def _on_info(self, msg: CameraInfo) -> None:
        try:
            camera = Intrinsics.from_camera_info(msg)
        except CameraModelError as e:
            self.camera_error = f'camera_info rejected: {e}'
            self.reject(self.camera_error)
            return
        self.camera, self.camera_error = camera, ''

    def _on_tf(self, msg: TFMessage, static: bool = False) -> None:
        with self.lock:
            refused = self.tf.add_message(msg, static)
        if refused:
            self.tf_refused += refused
            self.get_logger().warning(
                f'{refused} transform(s) on /tf{"_static" if static else ""} refused '
                '(empty or equal frames, or not a unit quaternion)',
                throttle_duration_sec=5.0,
            )

    def _camera_pose(self, header) -> np.ndarray | None:
        """Return T, p_camera = T @ p_fixed, at the frame's stamp (None: TF does not say)."""
        fixed = self.param('fixed_frame')
        if not fixed:
            return np.eye(4)
        with self.lock:
            pose = self.tf.lookup(header.frame_id, fixed, messages.stamp_seconds(header))
        if pose is None:
            self.no_pose_frames += 1
            self.get_logger().warning(
                f"no transform from '{fixed}' to '{header.frame_id}' at the frame's stamp: "
                '3D positions not averaged over time (said once; see frames_without_camera_pose '
                "on /diagnostics; fixed_frame:='' for a camera that does not move)",
                once=True,
            )
        return pose

    def _on_depth(self, msg: Image) -> None:
        self.last_depth = time.monotonic()
        with self.lock:
            self.depths.add(messages.stamp_seconds(msg.header), msg)

    def _on_classes(self, msg: Detection2DArray) -> None:
        self.worker.put(msg)

    def _localize(self, msg: Detection2DArray) -> None:
        started = time.monotonic()
        header = msg.header
        stamp = f'{header.stamp.sec}.{header.stamp.nanosec:09d}'
        if len(msg.detections) > self.param('max_glasses'):
            self.reject(
                f'rejected frame {stamp}: {len(msg.detections)} glasses, more than '
                f'max_glasses={self.param("max_glasses")}'
            )
            return
        with self.lock:
            found = self.depths.nearest(messages.stamp_seconds(header))
        self.counts['frames'] += 1
        if found is None:
            self.counts['no_depth'] += 1
            self.get_logger().warning(
                f'frame {stamp}: no depth image within max_depth_skew_s='
                f'{self.param("max_depth_skew_s")} s; no 3D for it',
                throttle_duration_sec=5.0,
            )
            return
        if self.camera is None:
            self.get_logger().warning(
                'no valid camera/camera_info yet; no 3D', throttle_duration_sec=5.0
            )
            return
        depth_msg, _skew = found
        try:
            depth = image_to_depth(depth_msg)
            camera = self.camera
            if depth.shape != (camera.height, camera.width):
                raise ImageError(
                    f'depth is {depth.shape[1]}x{depth.shape[0]}, camera_info says '
                    f'{camera.width}x{camera.height}: depth must be aligned to the colour image'
                )
            check_ids([d.id for d in msg.detections])
            detections = [
                (d.id, messages.box_of(d), messages.ranked_hypotheses(d)) for d in msg.detections
            ]
            for _, box, ranked in detections:
                if not ranked:
                    raise ValueError('a detection without class hypotheses')
                x0, y0, x1, y1 = box.xyxy()  # finite boxes up to 1e308 wide break the maths
                if not (
                    x0 >= -camera.width
                    and y0 >= -camera.height
                    and x1 <= 2 * camera.width
                    and y1 <= 2 * camera.height
                ):
                    raise ValueError(
                        f'box (cx={box.cx:g}, cy={box.cy:g}, w={box.w:g}, h={box.h:g}) reaches '
                        f'more than an image size beyond the {camera.width}x{camera.height} image'
                    )
        except (ImageError, ValueError) as e:
            self.reject(f'rejected frame {stamp}: {e}')
            return
        glasses = localize_frame(
            self.localizer,
            detections,
            depth,
            camera,
            self.sizes,
            set(self.param('fragile_classes')),
            self.param('fragile_threshold'),
            tracks=self.tracks,
            stamp_s=messages.stamp_seconds(header),
            camera_pose=self._camera_pose(header),
        )
        for g in glasses:
            loc = g.localization
            key = 'flagged' if loc.flag and loc.method != SIZE_PRIOR else loc.method
            self.counts[key] += 1
            if loc.flag:
                self.last_note = f'glass {g.det_id or "?"}: {loc.flag}'
                self.get_logger().warning(
                    f'frame {stamp}, glass {g.det_id or "?"}: {loc.flag}; position uncertain',
                    throttle_duration_sec=5.0,
                )
        dets = [messages.detection3d(header, g) for g in glasses]
        self.pub_3d.publish(messages.detection3d_array(header, dets))
        self.pub_fragile.publish(
            messages.detection3d_array(header, [d for d, g in zip(dets, glasses) if g.fragile])
        )
        self.pub_markers.publish(
            messages.glass_markers(header, glasses, self.param('marker_lifetime_s'))
        )
        self.record(header, started)


def main(args=None) -> int:
    return run(LocalizerNode, 'localizer_node', args)


if __name__ == '__main__':
    sys.exit(main())
