"""
Every node parameter: name, default, description, range, whether it may change at run time.

Pure data and checks; ``glass_perception.nodes.common`` turns these into rclpy declarations with
ParameterDescriptors (ranges, read-only) and refuses invalid changes with the same checks.
``config/params.yaml`` must list the same names (a test checks it).
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Any, Callable

from .tracking import TRACKERS


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    description: str
    low: float | None = None
    high: float | None = None
    read_only: bool = False
    check: Callable[[Any], str | None] | None = None  # extra rule: returns a reason, or None

    def validate(self, value: Any) -> str | None:
        """None when ``value`` is acceptable, else the reason it is not."""
        want = type(self.default)
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            return f'{self.name} must be {want.__name__}, got {type(value).__name__}'
        if isinstance(value, float) and not math.isfinite(value):
            return f'{self.name} must be finite'
        if (
            self.low is not None
            and value < self.low
            or self.high is not None
            and value > self.high
        ):
            return f'{self.name}={value} is outside [{self.low}, {self.high}]'
        return self.check(value) if self.check else None


def default(params: list[Param], name: str) -> Any:
    """Return the default of parameter ``name`` of a node's ``params`` (KeyError if unknown)."""
    for p in params:
        if p.name == name:
            return p.default
    raise KeyError(name)


def _non_empty(v):
    return None if v.strip() else 'must not be empty'


def _device(v):
    v = v.strip().lower()
    if v == 'cpu' or v == 'cuda' or (v.startswith('cuda:') and v[5:].isdigit()):
        return None
    return f"device '{v}' is not one of cpu, cuda, cuda:N"


def _temporal(what: str) -> list[Param]:
    return [
        Param(
            'fragile_release_frames',
            5,
            f'frames in a row {what} must look not fragile before it stops being fragile',
            1,
            1000,
            read_only=True,
        ),
        Param(
            'track_expiry_s',
            2.0,
            'seconds (by stamp) after which a track not seen again is forgotten',
            0.1,
            3600.0,
            read_only=True,
        ),
    ]


def _string_list(v):
    if not v or any(not isinstance(s, str) or not s.strip() for s in v):
        return 'must list at least one non-empty name'
    return None


CAMERA = [
    Param(
        'source',
        'synthetic',
        'synthetic (the path-traced RGB-D scenes shipped with the package), synthetic:fast '
        '(the 2.5-D generator, endless, colour only), synthetic:DIR (a scene set from '
        'glass-synth rgbd or detect), rgbd:DIR (camera_info.yaml, color/, depth/), bag:PATH '
        '(a ROS 2 bag, .db3 folder or MCAP, played with its recorded headers and pace), a V4L2 '
        'device (0 or /dev/video0), a video file, an image folder or a glob',
        read_only=True,
        check=_non_empty,
    ),
    Param(
        'fps',
        10.0,
        'frames per second published (a bag: source keeps its recorded pace, see rate)',
        0.1,
        120.0,
    ),
    Param(
        'bag_color_topic',
        '/camera/camera/color/image_raw',
        'bag: source: the colour topic (sensor_msgs/Image or CompressedImage); '
        "realsense2_camera's name by default",
        read_only=True,
        check=_non_empty,
    ),
    Param(
        'bag_depth_topic',
        '/camera/camera/aligned_depth_to_color/image_raw',
        'bag: source: depth aligned to colour (Image 16UC1/32FC1, or compressedDepth), paired by '
        "stamp; '' for none",
        read_only=True,
    ),
    Param(
        'bag_info_topic',
        '/camera/camera/color/camera_info',
        "bag: source: the colour camera_info; '' for none (uncalibrated)",
        read_only=True,
    ),
    Param(
        'rate',
        1.0,
        'bag: source: playback rate factor, 1.0 = as recorded',
        0.01,
        100.0,
        read_only=True,
    ),
    Param(
        'tf_parent_frame',
        'world',
        "for sources that know the camera's pose (glass-synth sequences): the /tf parent of "
        "frame_id, as an arm's TF tree gives it; '' publishes no TF",
        read_only=True,
    ),
    Param(
        'width',
        640,
        'published width in pixels; frames of another size are resized',
        64,
        4096,
        read_only=True,
    ),
    Param('height', 480, 'published height in pixels', 64, 4096, read_only=True),
    Param(
        'frame_id', 'camera_optical_frame', 'frame_id of the published headers', check=_non_empty
    ),
    Param('enabled', True, 'publish frames; false pauses the camera with its source kept open'),
    Param(
        'loop',
        True,
        'restart a video file or image folder at its end (else the node stops cleanly)',
    ),
    Param(
        'seed',
        7,
        'seed of the synthetic:fast scene stream (the models were never trained on seed 7)',
        0,
        2**31 - 1,
        read_only=True,
    ),
    Param(
        'retry_initial_s',
        0.5,
        'first wait before reopening a failed source (doubles each time)',
        0.05,
        60.0,
    ),
    Param('retry_max_s', 10.0, 'longest wait between reopen attempts', 0.1, 600.0),
    Param(
        'publish_compressed',
        False,
        'also publish camera/image_raw/compressed (JPEG) and camera/depth/image_raw/'
        "compressedDepth (PNG), as image_transport's plugins do: for a network hop",
        read_only=True,
    ),
    Param('jpeg_quality', 90, 'JPEG quality of camera/image_raw/compressed', 1, 100),
]


def _transport(what: str) -> Param:
    return Param(
        'image_transport',
        'raw',
        f'raw: {what}; compressed: its image_transport companion (JPEG colour, compressedDepth '
        "PNG depth; the camera's publish_compressed), a tenth of the bytes over a network",
        read_only=True,
        check=lambda v: None if v in ('raw', 'compressed') else 'raw or compressed',
    )


# Both model nodes take it: torch and OpenCV threads for inference.
THREADS = Param(
    'threads',
    0,
    'CPU threads for inference (torch intra-op and OpenCV); 0 = their default, one per '
    'core. Model nodes sharing a few cores run faster with 1 each',
    0,
    256,
    read_only=True,
)

DETECTOR = [
    _transport('camera/image_raw'),
    Param(
        'model',
        '',
        'YOLO weights: a path (.pt or .onnx), an Ultralytics name such as yolo11n.pt '
        '(downloaded on first use), or empty for the detector shipped with the package',
        read_only=True,
    ),
    Param('device', 'cpu', 'cpu, cuda or cuda:N', read_only=True, check=_device),
    Param(
        'imgsz',
        480,
        'network input size in pixels (multiple of 32); 480 finds the small, far glasses that '
        '320 misses',
        32,
        2048,
        read_only=True,
        check=lambda v: None if v % 32 == 0 else 'imgsz must be a multiple of 32',
    ),
    Param('conf', 0.25, 'minimum detection confidence', 0.0, 1.0),
    Param('iou', 0.5, 'IoU threshold of non-maximum suppression', 0.0, 1.0),
    Param('max_det', 50, 'most objects kept per frame', 1, 1000),
    Param(
        'crop_classes',
        ['cup', 'wine glass'],
        'detector classes handed to the classifier',
        check=_string_list,
    ),
    Param(
        'crop_padding',
        0.1,
        "crop margin, a fraction of the box's longer side on each side",
        0.0,
        1.0,
    ),
    Param('crop_size', 96, 'side of the square crops sent to the classifier', 16, 512),
    THREADS,
    Param(
        'tracker',
        'bytetrack',
        'gives each Detection2D the id of its track: bytetrack, botsort (with camera-motion '
        "compensation), ocsort, sort (Roboflow's trackers), or none: ids are per-frame "
        "indices '#0', '#1', ...",
        read_only=True,
        check=lambda v: None if v in TRACKERS else ', '.join(TRACKERS),
    ),
    Param(
        'duplicate_iou',
        0.7,
        'boxes of two classes overlapping this much are one object: the crop_classes one is '
        "kept (a pint seen as 'wine glass' and 'bottle' stays one glass); 1 keeps both",
        0.0,
        1.0,
    ),
    Param(
        'track_low_conf',
        0.1,
        'while tracking, boxes down to this confidence are kept when they continue a track '
        '(a glass half hidden behind another); new tracks still need conf',
        0.0,
        1.0,
    ),
    Param(
        'cut_threshold',
        15.0,
        'a frame whose 32x24 grey thumbnail differs from the previous one by more than this '
        'mean (grey levels) is a cut (another scene or camera): the tracks start afresh; '
        '255: never',
        0.0,
        255.0,
        read_only=True,
    ),
    Param(
        'track_buffer_s',
        1.0,
        'seconds a track survives without a box before its id is gone',
        0.05,
        60.0,
        read_only=True,
    ),
]

CLASSIFIER = [
    Param(
        'model',
        '',
        'classifier checkpoint (.safetensors with its .json beside it), '
        'or empty for the one shipped with the package',
        read_only=True,
    ),
    Param('device', 'cpu', 'cpu, cuda or cuda:N', read_only=True, check=_device),
    Param(
        'fragile_classes',
        ['beer_glass', 'soju_glass'],
        'classes whose summed probability makes an object '
        'fragile; each must be a class of the model',
        check=_string_list,
    ),
    Param(
        'fragile_threshold',
        0.3,
        'summed fragile probability at or above which an object is fragile '
        '(low on purpose: when unsure, handle it as glass)',
        0.0,
        1.0,
    ),
    Param(
        'pair_cache_size',
        8,
        'frames of crops/candidates kept while waiting for their partner',
        1,
        100,
    ),
    THREADS,
    Param(
        'label_window',
        8.0,
        "frames a track's running mean of log-probabilities spans (1: frame by frame)",
        1.0,
        1000.0,
        read_only=True,
    ),
    Param(
        'label_hysteresis',
        0.7,
        "nats of mean log-probability another class must lead by to take a track's label",
        0.0,
        10.0,
        read_only=True,
    ),
    *_temporal('a track'),
]

LOCALIZER = [
    _transport('camera/depth/image_raw'),
    Param(
        'fusion',
        True,
        'fuse the measured height and diameter with the crop probabilities on the 3D topics '
        '(the 2D topics stay appearance-only)',
        read_only=True,
    ),
    Param(
        'size_model',
        '',
        'class-conditional size model (.sizes.json), or empty for the one beside the shipped '
        'classifier',
        read_only=True,
    ),
    Param(
        'fragile_classes',
        ['beer_glass', 'soju_glass'],
        'classes whose summed fused probability makes a glass fragile on glass/fragile_3d',
        check=_string_list,
    ),
    Param(
        'fragile_threshold',
        0.3,
        'summed fused fragile probability at or above which a glass is fragile',
        0.0,
        1.0,
    ),
    Param(
        'missing_depth_warn_share',
        0.05,
        'health WARN when more than this share of the frames since the last report found no '
        'depth image to pair with (depth lost on the network shows here)',
        0.0,
        1.0,
    ),
    Param(
        'max_depth_skew_s',
        0.05,
        'largest stamp difference between the colour frame and the depth image paired with it '
        '(drivers stamp them separately unless synchronised)',
        0.0,
        1.0,
    ),
    Param(
        'depth_cache_size',
        10,
        'depth images kept for pairing by nearest stamp',
        1,
        100,
        read_only=True,
    ),
    Param('max_glasses', 50, 'a frame with more classified glasses is rejected', 1, 1000),
    Param(
        'fixed_frame',
        'world',
        'the frame (from TF: /tf, /tf_static) where each glass is averaged as a static object, '
        "so that an arm moving the camera is not taken for the glass moving: the robot's base "
        "or world frame; '' treats the camera as fixed. Without a transform at a frame's stamp "
        'its positions are not averaged',
        read_only=True,
    ),
    Param(
        'position_walk_sigma',
        0.003,
        "m/sqrt(s): how far a static glass's averaged position may wander per second; higher "
        'follows a glass that is slid faster, lower smooths more',
        0.0001,
        10.0,
        read_only=True,
    ),
    *_temporal("a glass's track"),
    Param(
        'marker_lifetime_s',
        1.0,
        'seconds an rviz2 marker stays without a newer frame',
        0.05,
        60.0,
    ),
]

OVERLAY = [
    _transport('camera/image_raw'),
    Param(
        'image_cache_size',
        30,
        'camera frames kept while their classifications are on the way',
        1,
        300,
    ),
    Param('line_width', 2, 'box outline width in pixels', 1, 10),
]


def _health(input_name: str) -> list[Param]:
    return [
        Param(
            'diagnostics_period',
            1.0,
            'seconds between health reports on /diagnostics',
            0.1,
            60.0,
            read_only=True,
        ),
        Param(
            'stale_after_s',
            5.0,
            f'seconds without {input_name} before the health report warns',
            0.5,
            3600.0,
        ),
    ]


CAMERA += [
    Param(
        'diagnostics_period',
        1.0,
        'seconds between health reports on /diagnostics',
        0.1,
        60.0,
        read_only=True,
    ),
    Param(
        'open_timeout_s',
        5.0,
        'at start-up, how long to keep trying to open the source before '
        'exiting with an error (a source lost later is reopened with backoff for ever)',
        0.0,
        600.0,
        read_only=True,
    ),
]
# Both model nodes take it: what runs an .onnx model.
RUNTIME = Param(
    'runtime',
    'onnxruntime',
    'what runs an .onnx model: onnxruntime (CPU or CUDA), openvino (CPU; about twice as fast '
    'where the CPU computes in bfloat16), or auto: openvino on the CPU where it is installed, '
    'else onnxruntime',
    read_only=True,
    check=lambda v: (
        None if v in ('auto', 'onnxruntime', 'openvino') else 'auto, onnxruntime or openvino'
    ),
)

# The model nodes are lifecycle nodes.
AUTOSTART = Param(
    'autostart',
    True,
    'configure and activate at start-up; false waits for lifecycle transitions '
    '(ros2 lifecycle set <node> configure, then activate)',
    read_only=True,
)
DETECTOR += [*_health('camera/image_raw'), AUTOSTART, RUNTIME]
CLASSIFIER += [*_health('glass/candidates'), AUTOSTART, RUNTIME]
FOXGLOVE = [
    Param(
        'address',
        '0.0.0.0',
        'address the WebSocket server listens on (0.0.0.0: every interface, as foxglove_bridge)',
        read_only=True,
        check=_non_empty,
    ),
    Param(
        'port', 8765, "the WebSocket server's port (Foxglove's default)", 1, 65535, read_only=True
    ),
    Param('jpeg_quality', 80, 'JPEG quality of the debug image sent to viewers', 1, 100),
]
OVERLAY += _health('glass/classifications')
FOXGLOVE += _health('glass/markers')
LOCALIZER += [*_health('glass/classifications'), AUTOSTART]

NODES = {
    'camera_node': CAMERA,
    'detector_node': DETECTOR,
    'classifier_node': CLASSIFIER,
    'overlay_node': OVERLAY,
    'localizer_node': LOCALIZER,
    'foxglove_node': FOXGLOVE,
}

#: parameters every ROS 2 node has besides its own
ROS_PARAMETERS = ('use_sim_time', 'start_type_description_service')


def closest(name: str, names) -> str | None:
    """Return the declared name closest to a misspelt ``name`` (difflib), or None."""
    import difflib

    found = difflib.get_close_matches(name, list(names), n=1, cutoff=0.5)
    return found[0] if found else None


def undeclared_warning(node: str, key: str) -> str:
    """Say that ``key`` is no parameter of ``node``, naming the closest one."""
    near = closest(key, [p.name for p in NODES.get(node, [])])
    hint = f"; did you mean '{near}'?" if near else ''
    return f"{node}: '{key}' is not a parameter of {node} and is ignored{hint}"


def check_params_file(path, text: str | None = None) -> list[str]:
    """
    Check a ROS 2 parameters YAML for the nodes of this package; return warnings.

    Raise ValueError (one line naming the file) when it is not a parameters file at all: not
    YAML, not a mapping of node names (``/**``, ``camera_node``, ``/ns/camera_node``) to
    mappings holding ``ros__parameters``. Warnings name each key under a known node that is no
    parameter of that node, with the closest one, as the nodes themselves warn at start-up.
    """
    import yaml

    try:
        doc = yaml.safe_load(text if text is not None else open(path, encoding='utf-8').read())
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f'{path}: cannot read ({e})') from None
    except yaml.YAMLError as e:
        where = getattr(e, 'problem_mark', None)
        line = f' (line {where.line + 1})' if where is not None else ''
        raise ValueError(f'{path}: not YAML{line}') from None
    what = 'a ROS 2 parameters file: a mapping of node names to {ros__parameters: {...}}'
    if not isinstance(doc, dict) or not doc:
        raise ValueError(f'{path}: not {what}')
    warnings = []
    for node, body in doc.items():
        if not isinstance(body, dict) or not isinstance(body.get('ros__parameters'), dict):
            raise ValueError(f"{path}: '{node}' has no ros__parameters mapping; not {what}")
        name = str(node).rsplit('/', 1)[-1]
        if name not in NODES:
            continue  # /** and other nodes' sections: nothing to check here
        declared = {p.name for p in NODES[name]} | set(ROS_PARAMETERS)
        for key in body['ros__parameters']:
            if key not in declared:
                warnings.append(undeclared_warning(name, str(key)))
    return warnings
