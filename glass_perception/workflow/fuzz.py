"""
Seeded malformed (and valid) inputs for the subscribing nodes. Message classes only: no rclpy.

``case(seed, target, index)`` builds one :class:`Case` from its own generator, seeded by
``(seed, target, index)``, so any failing case is replayed from those three numbers alone
(``glass-fuzz --nodes <target> --seed <seed> --replay <index>``). ``cases(seed, n, target)``
yields the first ``n``.

A case is one or more messages, published in order, that share a stamp (``Case.stamp``), and
what the node must do with them (``Case.expect``):

* ``valid``: process it, an answer with the case's stamp comes out (unusual but legal messages:
  big-endian mono16, padded rows, 1x1 images, detections without hypotheses, all-NaN depth ...;
  also a bad camera_info followed by a frame: the node rejects the camera_info, counts it
  (``Case.also_rejected``) and answers the frame with the last good calibration);
* ``malformed``: reject it (counted under ``rejected`` on /diagnostics, a throttled log line),
  nothing comes out with its stamp, and the node carries on;
* ``unpaired``: a half of a pair whose partner never comes (crops and candidates whose stamps
  differ, classifications without fragile, classifications without depth within the
  localizer's ``max_depth_skew_s`` and depth without classifications): nothing can tell it is
  wrong when it arrives, so nothing comes out with its stamp and nothing is counted as rejected
  (the pair cache evicts it).

Targets and the topics their cases are published on (relative to the node's namespace):

* ``detector``: ``camera/image_raw``; answer on ``glass/detections``.
* ``classifier``: ``glass/crops`` and ``glass/candidates``; answer on ``glass/classifications``.
* ``overlay``: ``camera/image_raw``, ``glass/classifications``, ``glass/fragile``; answer on
  ``glass/debug_image`` (drawn only while something subscribes to it).
* ``localizer``: ``camera/camera_info``, ``camera/depth/image_raw`` (16UC1 mm or 32FC1 m), then
  ``glass/classifications`` (the node pairs depth by stamp when classifications arrive); answer on
  ``glass/detections_3d``. The scenes are the shipped RGB-D scenes (``data/scenes``) at 160x120
  with their true boxes; every good camera_info is 160x120, so a lost one changes nothing.
* ``foxglove``: ``glass/debug_image``, half the time after a ``glass/markers`` array of legal
  types with odd values (NaN, infinite and huge poses and sizes, unknown types and actions, empty
  and 5000-character texts); answer: the JPEG on the debug image's WebSocket channel, with the
  image's stamp.
"""

from __future__ import annotations

import array
from dataclasses import dataclass, field
from functools import lru_cache
import itertools
import math

import cv2
import numpy as np
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from vision_msgs.msg import BoundingBox2D, Detection2D, Detection2DArray, ObjectHypothesisWithPose

from ..core.camera_model import CameraModelError, Intrinsics
from ..core.geometry import Box, square_crop, stack_crops
from ..core.image_codec import ENCODINGS
from ..core.params import NODES
from ..core.paths import DEFAULT_SCENES
from ..core.synthetic import render_scene

#: ``case()`` seeds each target's generator with its index here: new targets go at the end, so
#: the cases of the others (and their replays) stay what they were
TARGETS = ('detector', 'classifier', 'overlay', 'localizer', 'foxglove')
VALID, MALFORMED, UNPAIRED = 'valid', 'malformed', 'unpaired'
#: fuzz cases are stamped (BASE_SEC + index, 0); harness probes use other nanoseconds of that
#: second
BASE_SEC = 1_000_000
FRAME_ID = 'fuzz'
#: the classifier refuses frames with more candidates than this (where the detector's max_det
#: range ends)
MAX_CANDIDATES = int(next(p.high for p in NODES['detector_node'] if p.name == 'max_det'))
#: the localizer pairs a frame with the depth image nearest in stamp within MAX_DEPTH_SKEW
#: seconds and refuses frames with more than MAX_GLASSES glasses (its defaults, as in
#: config/params.yaml)
MAX_DEPTH_SKEW = float(
    next(p.default for p in NODES['localizer_node'] if p.name == 'max_depth_skew_s')
)
MAX_GLASSES = int(next(p.default for p in NODES['localizer_node'] if p.name == 'max_glasses'))

CAMERA, DETECTIONS = 'camera/image_raw', 'glass/detections'
CANDIDATES, CROPS = 'glass/candidates', 'glass/crops'
CLASSES, FRAGILE, DEBUG = 'glass/classifications', 'glass/fragile', 'glass/debug_image'
DEPTH, CAMERA_INFO, DETECTIONS_3D = (
    'camera/depth/image_raw',
    'camera/camera_info',
    'glass/detections_3d',
)
MARKERS = 'glass/markers'
#: where each target's answer comes out (foxglove: the debug image's channel, over WebSocket)
ANSWER_TOPIC = {
    'detector': DETECTIONS,
    'classifier': CLASSES,
    'overlay': DEBUG,
    'localizer': DETECTIONS_3D,
    'foxglove': DEBUG,
}

# Encodings and the 16-bit ones that can be sent in either byte order.
IMAGE_ENCODINGS = (
    'bgr8',
    'rgb8',
    'bgra8',
    'rgba8',
    'mono8',
    '8UC1',
    '8UC3',
    'mono16',
    '16UC1',
    'yuv422',
    'uyvy',
    'yuv422_yuy2',
    'yuyv',
)
# (no NUL: DDS strings end there, so "bgr8\x00" arrives as a valid "bgr8")
UNKNOWN_ENCODINGS = (
    '',
    'BGR8',
    'bgr',
    'jpeg',
    'png',
    'bayer_rggb8',
    'bayer_grbg16',
    '32FC1',
    '16UC3',
    '8SC1',
    'rgb16',
    'nv21',
    'mono8 ',
    ' mono8',
    'm\u00f6no8',
    'x' * 300,
)


@dataclass
class Case:
    target: str
    index: int
    kind: str
    expect: str  # VALID, MALFORMED or UNPAIRED
    stamp: tuple[int, int]
    messages: list[tuple[str, object]] = field(default_factory=list)  # (topic, message), in order
    #: messages of a valid case that the node rejects (counts) and still answers the case: a bad
    #: camera_info before a frame (the last good calibration stays in use)
    also_rejected: int = 0

    def describe(self) -> str:
        return (
            f'{self.target} case {self.index} ({self.kind}, {self.expect}) '
            f'stamp {self.stamp[0]}.{self.stamp[1]:09d}'
        )


# ------------------------------------------------------------------------------------------------
# building blocks


def header(stamp: tuple[int, int]) -> Header:
    h = Header(frame_id=FRAME_ID)
    h.stamp.sec, h.stamp.nanosec = int(stamp[0]), int(stamp[1])
    return h


@lru_cache(maxsize=16)
def scene(k: int) -> np.ndarray:
    """Return a small synthetic camera frame (160x120, BGR); read-only, cached."""
    img = render_scene(11, k % 16, 160, 120).image
    img.setflags(write=False)
    return img


@lru_cache(maxsize=16)
def scene_boxes(k: int) -> tuple[Box, ...]:
    return tuple(o.box for o in render_scene(11, k % 16, 160, 120).objects if o.box.is_valid())


def picture(rng, w: int, h: int) -> np.ndarray:
    """Return a w x h BGR picture: a resized synthetic frame."""
    return cv2.resize(scene(int(rng.integers(16))), (int(w), int(h)), interpolation=cv2.INTER_AREA)


def _yuv422(bgr: np.ndarray, order: str) -> np.ndarray:
    """
    Packed 4:2:2 (H, W, 2) bytes, ``order`` 'uyvy' or 'yuyv'; W must be even.

    The codec reads these with OpenCV's YUV2BGR_UYVY / _YUY2 (BT.601 video range, as cv_bridge
    does); the encoder is their inverse (OpenCV 4.8+), else the same BT.601 video-range formulas by
    hand.
    """
    code = getattr(cv2, 'COLOR_BGR2YUV_UYVY' if order == 'uyvy' else 'COLOR_BGR2YUV_YUY2', None)
    if code is not None:
        return cv2.cvtColor(np.ascontiguousarray(bgr), code)
    ycc = cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb).astype(np.float32)  # full range Y, Cr, Cb
    y = ycc[..., 0] * (219.0 / 255.0) + 16.0
    cr = (ycc[..., 1] - 128.0) * (224.0 / 255.0) + 128.0
    cb = (ycc[..., 2] - 128.0) * (224.0 / 255.0) + 128.0
    u2, v2 = (cb[:, 0::2] + cb[:, 1::2]) / 2.0, (cr[:, 0::2] + cr[:, 1::2]) / 2.0
    out = np.empty(bgr.shape[:2] + (2,), np.float32)
    if order == 'uyvy':  # U Y0 V Y1
        out[:, 0::2, 0], out[:, 1::2, 0], out[..., 1] = u2, v2, y
    else:  # Y0 U Y1 V
        out[..., 0], out[:, 0::2, 1], out[:, 1::2, 1] = y, u2, v2
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def pixels(bgr: np.ndarray, encoding: str) -> np.ndarray:
    """Return ``bgr`` (uint8) as ``encoding``'s array (16-bit: gray x 257, native order)."""
    if encoding in ('bgr8', '8UC3'):
        return bgr
    if encoding == 'rgb8':
        return bgr[..., ::-1]
    if encoding == 'bgra8':
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)
    if encoding == 'rgba8':
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGBA)
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    if encoding in ('mono8', '8UC1'):
        return gray
    if encoding in ('mono16', '16UC1'):
        return gray.astype(np.uint16) * 257
    if encoding in ('yuv422', 'uyvy'):
        return _yuv422(bgr, 'uyvy')
    if encoding in ('yuv422_yuy2', 'yuyv'):
        return _yuv422(bgr, 'yuyv')
    raise ValueError(f'no pixels for {encoding}')


def raw_image(
    stamp, arr: np.ndarray, encoding: str, big_endian: bool = False, pad: int = 0
) -> Image:
    """
    Build an Image carrying ``arr`` exactly as ``encoding`` says.

    Rows are padded by ``pad`` bytes. 16- and 32-bit arrays (uint16, float32) go in the byte order
    ``big_endian`` says, anything else as bytes.
    """
    h, w = arr.shape[:2]
    dtype = (
        arr.dtype.newbyteorder('>' if big_endian else '<')
        if arr.dtype in (np.uint16, np.float32)
        else np.dtype('u1')
    )
    rows = np.ascontiguousarray(arr.astype(dtype, copy=False)).reshape(h, -1).view(np.uint8)
    if pad:
        rows = np.concatenate([rows, np.full((h, pad), 0xAB, np.uint8)], axis=1)
    msg = Image(
        header=header(stamp),
        height=int(h),
        width=int(w),
        encoding=encoding,
        is_bigendian=int(big_endian),
        step=int(rows.shape[1]),
    )
    msg.data = _bytes(rows.tobytes())
    return msg


def _bytes(b: bytes) -> array.array:
    data = array.array('B')
    data.frombytes(b)
    return data


def detection(
    stamp, box: tuple[float, float, float, float], results=(), det_id: str = ''
) -> Detection2D:
    """
    Build a Detection2D with any (even non-finite) box values.

    ``results`` are (class_id, score).
    """
    d = Detection2D(header=header(stamp), id=det_id)
    b = BoundingBox2D()
    b.center.position.x, b.center.position.y, b.size_x, b.size_y = (float(v) for v in box)
    d.bbox = b
    for class_id, score in results:
        r = ObjectHypothesisWithPose()
        r.hypothesis.class_id, r.hypothesis.score = str(class_id), float(score)
        d.results.append(r)
    return d


def detection_array(stamp, detections) -> Detection2DArray:
    return Detection2DArray(header=header(stamp), detections=list(detections))


def random_box(rng, w: int = 160, h: int = 120) -> tuple[float, float, float, float]:
    bw, bh = rng.uniform(4, w / 2), rng.uniform(4, h / 2)
    return (rng.uniform(bw / 2, w - bw / 2), rng.uniform(bh / 2, h - bh / 2), bw, bh)


BAD_BOX_VALUES = {
    'nan_box': (math.nan,),
    'inf_box': (math.inf, -math.inf),
    'negative_size_box': (-1.0, -50.0, -1e30),
    'zero_size_box': (0.0, -0.0),
}


def bad_box(rng, kind: str) -> tuple[float, float, float, float]:
    box = list(random_box(rng))
    value = BAD_BOX_VALUES[kind][int(rng.integers(len(BAD_BOX_VALUES[kind])))]
    if kind in ('negative_size_box', 'zero_size_box'):
        box[2 + int(rng.integers(2))] = value  # a size
    else:
        box[int(rng.integers(4))] = value  # any field
    return tuple(box)


def _choose(rng, table):
    """One (kind, builder) of a table of (weight, kind, builder)."""
    w = np.array([t[0] for t in table], float)
    i = int(rng.choice(len(table), p=w / w.sum()))
    return table[i][1], table[i][2]


# ------------------------------------------------------------------------------------------------
# images (the detector's input, the overlay's frames, the classifier's crops)


def valid_image(rng, stamp, bgr: np.ndarray | None = None) -> tuple[str, Image]:
    """Build a legal image in a random encoding, byte order and row padding."""
    encoding = IMAGE_ENCODINGS[int(rng.integers(len(IMAGE_ENCODINGS)))]
    if bgr is None:
        w, h = int(rng.integers(16, 201)), int(rng.integers(16, 161))
        bgr = picture(rng, w, h)
    if ENCODINGS[encoding].channels == 2 and bgr.shape[1] % 2:
        bgr = bgr[:, :-1]
    arr = pixels(bgr, encoding)
    big = bool(rng.integers(2))  # meaningless for 8-bit encodings, which must ignore it
    itemsize = arr.dtype.itemsize
    pad = int(rng.integers(1, 9)) * itemsize if rng.random() < 0.4 else 0
    kind = f'{encoding}{"_be" if big and itemsize > 1 else ""}{"_padded" if pad else ""}'
    return kind, raw_image(stamp, arr, encoding, big, pad)


def odd_size_image(rng, stamp) -> tuple[str, Image]:
    """Legal but unusual sizes: 1x1, a few pixels, a 1-pixel-high strip."""
    w, h = [(1, 1), (2, 2), (3, 7), (1, 500), (2000, 1), (4000, 2)][int(rng.integers(6))]
    return 'odd_size', raw_image(stamp, picture(rng, w, h), 'bgr8')


def malformed_image(rng, stamp) -> tuple[str, Image]:
    """
    Build an image that does not add up.

    The codec must refuse it without reading or allocating much.
    """
    enc = IMAGE_ENCODINGS[int(rng.integers(len(IMAGE_ENCODINGS)))]
    msg = Image(
        header=header(stamp),
        width=2 * int(rng.integers(8, 60)),
        height=int(rng.integers(8, 80)),
        encoding=enc if ENCODINGS[enc].channels != 2 else 'bgr8',
    )
    bpp = np.dtype(ENCODINGS[msg.encoding].dtype).itemsize * ENCODINGS[msg.encoding].channels
    msg.step = msg.width * bpp
    data = rng.integers(0, 256, msg.height * msg.step, dtype=np.uint8).tobytes()
    mutation = int(rng.integers(11))
    if mutation == 0:
        kind = 'step_too_small'
        msg.step = int(rng.integers(0, msg.width * bpp))
        data = bytes(msg.step * msg.height)
    elif mutation == 1:
        kind = 'data_truncated'
        data = data[: int(rng.integers(0, len(data)))]
    elif mutation == 2:
        kind = 'data_oversized'
        data = data + bytes(int(rng.integers(1, 4097)))
    elif mutation == 3:
        kind = 'zero_size'
        if rng.random() < 0.5:
            msg.width = 0
        else:
            msg.height = 0
        data = data if rng.random() < 0.5 else b''
    elif mutation == 4:
        kind = 'huge_size_tiny_data'
        msg.width = int(rng.choice([16385, 100_000, 2**31 - 1, 2**32 - 1]))
        msg.height = int(rng.choice([1, 2, 100_000, 2**32 - 1]))
        msg.step = msg.width * bpp if msg.width * bpp < 2**32 else 2**32 - 1
        data = bytes(int(rng.integers(0, 64)))
    elif mutation == 5:
        kind = 'huge_step'
        msg.step = int(rng.choice([2**20 + 1, 2**31, 2**32 - 1]))
        data = bytes(int(rng.integers(0, 256)))
    elif mutation == 6:
        kind = 'unknown_encoding'
        msg.encoding = UNKNOWN_ENCODINGS[int(rng.integers(len(UNKNOWN_ENCODINGS)))]
    elif mutation == 7:
        kind = 'odd_step_16bit'
        msg.encoding = ('mono16', '16UC1')[int(rng.integers(2))]
        msg.step = msg.width * 2 + 1
        data = bytes(msg.step * msg.height)
    elif mutation == 8:
        kind = 'odd_width_422'
        msg.encoding = ('yuv422', 'uyvy', 'yuv422_yuy2', 'yuyv')[int(rng.integers(4))]
        msg.width = msg.width + 1
        msg.step = msg.width * 2
        data = bytes(msg.step * msg.height)
    elif mutation == 9:
        kind = 'wrong_encoding_for_size'  # 3 bytes a pixel claimed, data holds 1 (or 4)
        msg.encoding = ('bgr8', 'rgba8', 'mono8')[int(rng.integers(3))]
        bpp_claimed = ENCODINGS[msg.encoding].channels
        msg.step = msg.width * bpp_claimed
        data = bytes(msg.height * msg.width * (4 if bpp_claimed != 4 else 3))
    else:
        kind = 'empty_data'
        data = b''
    msg.data = _bytes(data)
    return kind, msg


# ------------------------------------------------------------------------------------------------
# detector: camera/image_raw


def _detector_case(rng, stamp) -> tuple[str, str, list]:
    table = [
        (45, MALFORMED, malformed_image),
        (22, VALID, valid_image),
        (3, VALID, odd_size_image),
    ]
    expect, build = _choose(rng, table)
    kind, msg = build(rng, stamp)
    return kind, expect, [(CAMERA, msg)]


def detector_probe(k: int, stamp) -> list:
    """Build a plain valid camera frame (bgr8 synthetic scene)."""
    return [(CAMERA, raw_image(stamp, scene(k), 'bgr8'))]


# ------------------------------------------------------------------------------------------------
# classifier: glass/crops + glass/candidates


def _crops(rng, stamp, n: int, side: int, encoding: str = 'bgr8') -> Image:
    pic = picture(rng, 160, 120)
    crops = []
    for _ in range(n):
        s = int(rng.integers(8, 100))
        x, y = int(rng.integers(0, 160 - s)), int(rng.integers(0, 120 - s))
        crops.append(
            cv2.resize(pic[y: y + s, x: x + s], (side, side), interpolation=cv2.INTER_AREA)
        )
    stacked = stack_crops(crops)
    if ENCODINGS[encoding].channels == 2:
        encoding = 'bgr8'
    return raw_image(stamp, pixels(stacked, encoding), encoding, bool(rng.integers(2)))


def _candidates(rng, stamp, n: int, boxes=None) -> Detection2DArray:
    boxes = boxes if boxes is not None else [random_box(rng) for _ in range(n)]
    names = ('cup', 'wine glass')
    return detection_array(
        stamp,
        [
            detection(
                stamp, b, [(names[int(rng.integers(2))], rng.uniform(0.3, 1.0))], det_id=str(i)
            )
            for i, b in enumerate(boxes)
        ],
    )


def _pair(rng, stamp, crops, candidates) -> list:
    pair = [(CROPS, crops), (CANDIDATES, candidates)]
    return (
        pair if rng.random() < 0.7 else pair[::-1]
    )  # the detector sends crops first; either order works


def _classifier_case(rng, stamp) -> tuple[str, str, list]:
    r = rng.random()
    n = int(rng.integers(1, 7))
    side = int(rng.choice([16, 32, 64, 96, 128]))
    other = (stamp[0], stamp[1] + 1)
    if r < 0.18:
        enc = ('bgr8', 'rgb8', 'mono8', 'mono16', 'rgba8', 'bgra8')[int(rng.integers(6))]
        return (
            f'valid_pair_{enc}',
            VALID,
            _pair(rng, stamp, _crops(rng, stamp, n, side, enc), _candidates(rng, stamp, n)),
        )
    if r < 0.24:
        return 'valid_empty', VALID, [(CANDIDATES, _candidates(rng, stamp, 0))]
    if r < 0.26:
        n = int(rng.integers(30, 121))
        return (
            'valid_many',
            VALID,
            _pair(rng, stamp, _crops(rng, stamp, n, 16), _candidates(rng, stamp, n)),
        )
    if r < 0.30:  # an (empty) frame answered at once; crops with its stamp never find a partner
        return (
            'empty_with_stray_crops',
            VALID,
            [(CROPS, _crops(rng, stamp, n, side)), (CANDIDATES, _candidates(rng, stamp, 0))],
        )
    if r < 0.42:
        m = int(rng.choice([x for x in range(0, 9) if x != n]))
        crops = (
            _crops(rng, stamp, m, side)
            if m
            else raw_image(stamp, np.zeros((1, side, 3), np.uint8), 'bgr8')
        )
        return 'count_mismatch', MALFORMED, _pair(rng, stamp, crops, _candidates(rng, stamp, n))
    if r < 0.50:
        h = n * side + int(rng.integers(1, side))
        crops = raw_image(stamp, picture(rng, side, h), 'bgr8')
        return (
            'crops_height_not_multiple',
            MALFORMED,
            _pair(rng, stamp, crops, _candidates(rng, stamp, n)),
        )
    if r < 0.64:
        kind = tuple(BAD_BOX_VALUES)[int(rng.integers(len(BAD_BOX_VALUES)))]
        boxes = [random_box(rng) for _ in range(n)]
        boxes[int(rng.integers(n))] = bad_box(rng, kind)
        return (
            kind,
            MALFORMED,
            _pair(rng, stamp, _crops(rng, stamp, n, side), _candidates(rng, stamp, n, boxes)),
        )
    if r < 0.78:
        kind, crops = malformed_image(rng, stamp)
        return f'crops_{kind}', MALFORMED, _pair(rng, stamp, crops, _candidates(rng, stamp, n))
    if r < 0.82:
        n = int(rng.integers(MAX_CANDIDATES + 1, 3 * MAX_CANDIDATES))
        crops = raw_image(
            stamp, picture(rng, 1, min(n, 16384)), 'mono8'
        )  # 1-pixel crops: a tiny image
        return (
            'too_many_detections',
            MALFORMED,
            _pair(rng, stamp, crops, _candidates(rng, stamp, n)),
        )
    if r < 0.90:
        return (
            'stamp_mismatch',
            UNPAIRED,
            _pair(rng, stamp, _crops(rng, other, n, side), _candidates(rng, stamp, n)),
        )
    if r < 0.95:
        return 'candidates_only', UNPAIRED, [(CANDIDATES, _candidates(rng, stamp, n))]
    return 'crops_only', UNPAIRED, [(CROPS, _crops(rng, stamp, n, side))]


def classifier_probe(k: int, stamp) -> list:
    """Build the crops and candidates the detector would send for a synthetic frame."""
    img, boxes = scene(k), list(scene_boxes(k))[:4] or [Box(80, 60, 40, 50)]
    stacked = stack_crops([square_crop(img, b, 0.1, 96) for b in boxes])
    crops = raw_image(stamp, stacked, 'bgr8')
    cands = detection_array(
        stamp,
        [
            detection(stamp, (b.cx, b.cy, b.w, b.h), [('cup', 0.9)], str(i))
            for i, b in enumerate(boxes)
        ],
    )
    return [(CROPS, crops), (CANDIDATES, cands)]


# ------------------------------------------------------------------------------------------------
# overlay: camera/image_raw + glass/classifications + glass/fragile

CLASS_NAMES = ('cup', 'beer_glass', 'soju_glass')


def _results(
    rng, stamp, boxes, hypotheses: bool = True
) -> tuple[Detection2DArray, Detection2DArray]:
    dets = []
    for i, b in enumerate(boxes):
        p = rng.dirichlet(np.ones(3))
        res = sorted(zip(CLASS_NAMES, p), key=lambda x: -x[1]) if hypotheses else []
        dets.append(detection(stamp, b, res, det_id=str(i)))
    fragile = [d for d in dets if rng.random() < 0.5]
    return detection_array(stamp, dets), detection_array(stamp, fragile)


def _overlay_msgs(image, classes, fragile) -> list:
    out = [(CAMERA, image)] if image is not None else []
    return out + [(CLASSES, classes), (FRAGILE, fragile)]


def _overlay_case(rng, stamp) -> tuple[str, str, list]:
    r = rng.random()
    n = int(rng.integers(0, 6))
    img = raw_image(stamp, picture(rng, 160, 120), 'bgr8')
    boxes = [random_box(rng) for _ in range(n)]
    if r < 0.16:
        kind, img = valid_image(rng, stamp, picture(rng, 160, 120))
        return f'valid_{kind}', VALID, _overlay_msgs(img, *_results(rng, stamp, boxes))
    if r < 0.22:
        return (
            'no_hypotheses',
            VALID,
            _overlay_msgs(img, *_results(rng, stamp, boxes or [random_box(rng)], False)),
        )
    if r < 0.28:
        classes, _ = _results(rng, stamp, boxes)
        fragile = detection_array(
            stamp,
            [
                detection(stamp, random_box(rng), [('beer_glass', 0.9)], det_id=f'x{i}')
                for i in range(int(rng.integers(1, 4)))
            ],
        )
        return 'fragile_ids_do_not_match', VALID, _overlay_msgs(img, classes, fragile)
    if r < 0.36:  # finite boxes far outside the image, up to float range: drawn clipped
        v = float(rng.choice([1e4, 1e9, 3e9, 1e15, 1e300]))
        big = [
            (rng.choice([-v, v]), rng.uniform(0, 120), rng.uniform(1, v), rng.uniform(1, 100)),
            (80.0, 60.0, v, v),
        ]
        return 'box_far_outside', VALID, _overlay_msgs(img, *_results(rng, stamp, big + boxes))
    if r < 0.40:
        classes, fragile = _results(rng, stamp, boxes or [random_box(rng)])
        for d in classes.detections:
            for h in d.results:
                h.hypothesis.score = float(rng.choice([math.nan, math.inf, -math.inf, -1.0, 1e30]))
        return 'odd_scores', VALID, _overlay_msgs(img, classes, fragile)
    if r < 0.42:
        many = [random_box(rng) for _ in range(int(rng.integers(100, 400)))]
        return 'many_detections', VALID, _overlay_msgs(img, *_results(rng, stamp, many))
    if r < 0.46:
        classes, fragile = _results(rng, stamp, boxes)
        fragile.detections.append(
            detection(stamp, (math.nan, 0, -1, math.inf), [('soju_glass', 1.0)], 'f')
        )
        return 'bad_box_in_fragile_only', VALID, _overlay_msgs(img, classes, fragile)
    if r < 0.66:
        kind = tuple(BAD_BOX_VALUES)[int(rng.integers(len(BAD_BOX_VALUES)))]
        boxes = boxes + [bad_box(rng, kind)]
        rng.shuffle(boxes)
        return kind, MALFORMED, _overlay_msgs(img, *_results(rng, stamp, boxes))
    if r < 0.88:
        kind, bad = malformed_image(rng, stamp)
        return f'image_{kind}', MALFORMED, _overlay_msgs(bad, *_results(rng, stamp, boxes))
    if r < 0.94:
        classes, _ = _results(rng, stamp, boxes)
        return 'fragile_missing', UNPAIRED, [(CAMERA, img), (CLASSES, classes)]
    classes, fragile = _results(rng, stamp, boxes)
    fragile.header.stamp.nanosec += 1
    return 'fragile_stamp_mismatch', UNPAIRED, _overlay_msgs(img, classes, fragile)


def overlay_probe(k: int, stamp) -> list:
    img = raw_image(stamp, scene(k), 'bgr8')
    boxes = [(b.cx, b.cy, b.w, b.h) for b in scene_boxes(k)]
    classes = detection_array(
        stamp,
        [
            detection(stamp, b, [('beer_glass', 0.8), ('cup', 0.2)], str(i))
            for i, b in enumerate(boxes)
        ],
    )
    return _overlay_msgs(img, classes, detection_array(stamp, classes.detections[:1]))


# ------------------------------------------------------------------------------------------------
# localizer: camera/camera_info + camera/depth/image_raw + glass/classifications

RGBD_W, RGBD_H = 160, 120
RGBD_SCENES = 8  # the first scenes of data/scenes
#: bytes a pixel of encodings the localizer refuses for depth (other names: 2)
NOT_DEPTH_BPP = {
    'bgr8': 3,
    'rgb8': 3,
    'mono8': 1,
    '8UC1': 1,
    'mono16': 2,
    '16SC1': 2,
    '32SC1': 4,
    '32FC3': 12,
    '64FC1': 8,
    '16UC3': 6,
    'yuv422': 2,
    '': 2,
    '16uc1': 2,
    '32FC1 ': 4,
    'z16': 2,
}
ODD_CLASS_IDS = ('cup', 'beer_glass', 'soju_glass', 'wine glass', '', 'bottle', 'x' * 300)


@lru_cache(maxsize=1)
def _rgbd_scenes() -> tuple:
    from .evaluation_3d import load_rgbd_folder

    out = []
    for _, _, depth, camera, truth in itertools.islice(
        load_rgbd_folder(DEFAULT_SCENES), RGBD_SCENES
    ):
        small = cv2.resize(depth, (RGBD_W, RGBD_H), interpolation=cv2.INTER_NEAREST)
        small.setflags(write=False)
        sx, sy = RGBD_W / camera.width, RGBD_H / camera.height
        objects = truth['objects']
        boxes = tuple(
            (o['box'][0] * sx, o['box'][1] * sy, o['box'][2] * sx, o['box'][3] * sy)
            for o in objects
        )
        kinds = tuple(o['kind'] for o in objects)
        out.append((small, camera.scaled(RGBD_W, RGBD_H), boxes, kinds))
    return tuple(out)


def rgbd_scene(k: int) -> tuple[np.ndarray, Intrinsics, tuple, tuple[str, ...]]:
    """
    Return shipped RGB-D scene ``k`` at 160x120: depth, camera, true boxes and their kinds.

    The depth is in metres, NaN where there is no reading (read-only, cached); the boxes are
    (cx, cy, w, h) in its pixels, the camera the scene's, scaled.
    """
    return _rgbd_scenes()[int(k) % RGBD_SCENES]


def camera_info(stamp, cam: Intrinsics, **fields) -> CameraInfo:
    """Build the CameraInfo of ``cam``; ``fields`` (k, d, width, ...) override what it says."""
    msg = CameraInfo(header=header(stamp), width=cam.width, height=cam.height)
    msg.distortion_model = cam.distortion_model
    msg.d = [float(v) for v in cam.d]
    msg.k = [float(v) for v in cam.matrix().ravel()]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [cam.fx, 0.0, cam.cx, 0.0, 0.0, cam.fy, cam.cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    for name, value in fields.items():
        setattr(msg, name, value)
    return msg


def good_camera_info(msg) -> bool:
    """Tell whether the localizer takes a camera_info (else it keeps the last good one)."""
    try:
        Intrinsics.from_camera_info(msg)
    except CameraModelError:
        return False
    return True


def depth_pixels(depth: np.ndarray, encoding: str) -> np.ndarray:
    """Return metres (NaN = none) as ``encoding``: 16UC1 millimetres (0 = none) or 32FC1."""
    if encoding == '16UC1':
        mm = np.where(np.isfinite(depth), np.rint(depth * 1000.0), 0.0)
        return np.clip(mm, 0, 65535).astype(np.uint16)
    return np.asarray(depth, np.float32)


def _shifted(stamp, seconds: float) -> tuple[int, int]:
    ns = int(stamp[0]) * 1_000_000_000 + int(stamp[1]) + int(round(seconds * 1e9))
    return (ns // 1_000_000_000, ns % 1_000_000_000)


def valid_depth(rng, stamp, depth: np.ndarray) -> tuple[str, Image]:
    """Build a legal depth image: 16UC1 or 32FC1, either byte order, rows maybe padded."""
    encoding = ('16UC1', '32FC1')[int(rng.integers(2))]
    arr = depth_pixels(depth, encoding)
    big = bool(rng.integers(2))
    pad = int(rng.integers(1, 9)) * arr.dtype.itemsize if rng.random() < 0.4 else 0
    kind = f'{encoding}{"_be" if big else ""}{"_padded" if pad else ""}'
    return kind, raw_image(stamp, arr, encoding, big, pad)


def malformed_depth(rng, stamp, depth: np.ndarray) -> tuple[str, Image]:
    """
    Build a depth image that does not add up, or that is no depth image.

    The codec (``image_to_depth``) must refuse it, or its size differs from camera_info's.
    """
    encoding = ('16UC1', '32FC1')[int(rng.integers(2))]
    msg = raw_image(stamp, depth_pixels(depth, encoding), encoding, bool(rng.integers(2)))
    data, bpp = bytes(msg.data), 2 if encoding == '16UC1' else 4
    mutation = int(rng.integers(10))
    if mutation == 0:
        kind = 'unsupported_encoding'
        msg.encoding = tuple(NOT_DEPTH_BPP)[int(rng.integers(len(NOT_DEPTH_BPP)))]
        msg.step = msg.width * NOT_DEPTH_BPP[msg.encoding]
        data = rng.integers(0, 256, msg.step * msg.height, dtype=np.uint8).tobytes()
    elif mutation == 1:
        kind = 'data_truncated'
        data = data[: int(rng.integers(0, len(data)))]
    elif mutation == 2:
        kind = 'data_oversized'
        data = data + bytes(int(rng.integers(1, 4097)))
    elif mutation == 3:
        kind = 'step_too_small'
        msg.step = int(rng.integers(0, msg.width * bpp))
        data = data[: msg.step * msg.height]
    elif mutation == 4:
        kind = 'odd_step'  # not a whole number of 2- or 4-byte readings
        msg.step = msg.width * bpp + int(rng.integers(1, bpp))
        data = bytes(msg.step * msg.height)
    elif mutation == 5:
        kind = 'size_differs'  # from camera_info's
        w, h = [(80, 60), (161, 120), (160, 119), (120, 160), (320, 240), (1, 1)][
            int(rng.integers(6))
        ]
        resized = cv2.resize(depth, (w, h), interpolation=cv2.INTER_NEAREST)
        other = raw_image(stamp, depth_pixels(resized, encoding), encoding, bool(msg.is_bigendian))
        return kind, other
    elif mutation == 6:
        kind = 'huge_size_tiny_data'
        msg.width = int(rng.choice([16385, 100_000, 2**31 - 1, 2**32 - 1]))
        msg.height = int(rng.choice([1, 2, 100_000, 2**32 - 1]))
        msg.step = msg.width * bpp if msg.width * bpp < 2**32 else 2**32 - 1
        data = bytes(int(rng.integers(0, 64)))
    elif mutation == 7:
        kind = 'huge_step'
        msg.step = int(rng.choice([2**20 + 4, 2**31, 2**32 - 4]))
        data = bytes(int(rng.integers(0, 256)))
    elif mutation == 8:
        kind = 'zero_size'
        if rng.random() < 0.5:
            msg.width = 0
        else:
            msg.height = 0
        data = data if rng.random() < 0.5 else b''
    else:
        kind = 'empty_data'
        data = b''
    msg.data = _bytes(data)
    return kind, msg


def _glasses(rng, stamp, boxes, kinds=()) -> Detection2DArray:
    """Build classifications as the classifier sends them: ranked probabilities of its classes."""
    dets = []
    for i, b in enumerate(boxes):
        p = rng.dirichlet(np.ones(len(CLASS_NAMES)))
        if i < len(kinds) and kinds[i] in CLASS_NAMES:  # mostly right
            p = 0.4 * p + 0.6 * (np.array(CLASS_NAMES) == kinds[i])
        dets.append(detection(stamp, b, sorted(zip(CLASS_NAMES, p), key=lambda x: -x[1]), str(i)))
    return detection_array(stamp, dets)


def _odd_box(rng) -> tuple[float, float, float, float]:
    """Return a legal but unusual box: tiny, huge, thin, or partly outside the image."""
    w, h = RGBD_W, RGBD_H
    if rng.random() < 0.3:
        bw, bh = 10.0 ** rng.uniform(-300, 0, 2)
    else:
        bw, bh = rng.uniform(0.5, 2 * w), rng.uniform(0.5, 2 * h)
    return (
        rng.uniform(-w + bw / 2, 2 * w - bw / 2),
        rng.uniform(-h + bh / 2, 2 * h - bh / 2),
        float(bw),
        float(bh),
    )


#: finite boxes that reach more than an image size beyond the image: refused
FAR_BOXES = (
    (1e300, 60.0, 10.0, 10.0),
    (80.0, 60.0, 1.7e308, 1.7e308),
    (-400.0, 60.0, 10.0, 10.0),
    (80.0, 500.0, 10.0, 10.0),
    (80.0, 60.0, 1e9, 5.0),
    (1.7e308, 1.7e308, 1e-300, 1e-300),
)
#: a camera_info the localizer refuses: name -> CameraInfo fields
BAD_CAMERA_INFO = {
    'zero_k': {'k': [0.0] * 9},
    'nan_k': {'k': [math.nan, 0.0, 79.5, 0.0, 151.5, 59.5, 0.0, 0.0, 1.0]},
    'inf_k': {'k': [151.5, 0.0, math.inf, 0.0, 151.5, 59.5, 0.0, 0.0, 1.0]},
    'negative_focal': {'k': [-151.5, 0.0, 79.5, 0.0, 151.5, 59.5, 0.0, 0.0, 1.0]},
    'zero_size': {'width': 0},
    'nan_distortion': {'d': [0.0, math.nan, 0.0, 0.0, 0.0]},
    'unknown_model': {'distortion_model': 'pinhole_v2'},
}
DISTORTIONS = (
    ('plumb_bob', (0.1, -0.05, 0.001, 0.001, 0.01)),
    ('rational_polynomial', (0.1, -0.05, 0.001, 0.001, 0.01, 0.02, 0.0, 0.0)),
    ('equidistant', (0.05, 0.01, 0.0, 0.0)),
    ('', ()),
)


def _localizer_msgs(info, depth, classes) -> list:
    return [
        (topic, m)
        for topic, m in ((CAMERA_INFO, info), (DEPTH, depth), (CLASSES, classes))
        if m is not None
    ]


def _localizer_case(rng, stamp) -> tuple[str, str, list]:
    r = rng.random()
    depth_m, cam, boxes, kinds = rgbd_scene(int(rng.integers(RGBD_SCENES)))
    info = camera_info(stamp, cam)
    depth = raw_image(stamp, depth_pixels(depth_m, '16UC1'), '16UC1')
    classes = _glasses(rng, stamp, boxes, kinds)
    if r < 0.18:
        kind, depth = valid_depth(rng, stamp, depth_m)
        return f'valid_{kind}', VALID, _localizer_msgs(info, depth, classes)
    if r < 0.20:
        if rng.random() < 0.5:
            kind, arr = 'all_nan_32FC1', np.full((RGBD_H, RGBD_W), np.nan, np.float32)
        else:
            kind, arr = 'no_readings_16UC1', np.zeros((RGBD_H, RGBD_W), np.uint16)
        depth = raw_image(stamp, arr, kind[-5:], bool(rng.integers(2)))
        return kind, VALID, _localizer_msgs(info, depth, classes)
    if r < 0.22:  # inf, negative, zero: no reading; absurd distances are readings
        arr = depth_pixels(depth_m, '32FC1').copy()
        odd = rng.random(arr.shape) < rng.uniform(0.01, 0.5)
        arr[odd] = rng.choice(
            np.array([np.inf, -np.inf, -1.0, 0.0, 1e30, 1e-38, 3e38], np.float32), odd.sum()
        )
        depth = raw_image(stamp, arr, '32FC1', bool(rng.integers(2)))
        return 'odd_readings_32FC1', VALID, _localizer_msgs(info, depth, classes)
    if r < 0.25:
        return 'valid_empty', VALID, _localizer_msgs(info, depth, _glasses(rng, stamp, ()))
    if r < 0.27:
        skew = rng.uniform(-0.8, 0.8) * MAX_DEPTH_SKEW
        kind, depth = valid_depth(rng, _shifted(stamp, skew), depth_m)
        return 'depth_skewed_within_limit', VALID, _localizer_msgs(info, depth, classes)
    if r < 0.29:
        model, d = DISTORTIONS[int(rng.integers(len(DISTORTIONS)))]
        info = camera_info(stamp, cam, distortion_model=model, d=list(d))
        return 'camera_distorted', VALID, _localizer_msgs(info, depth, classes)
    if r < 0.31:
        odd = [_odd_box(rng) for _ in range(int(rng.integers(1, 5)))]
        mixed = list(boxes) + odd
        rng.shuffle(mixed)
        return 'odd_boxes', VALID, _localizer_msgs(info, depth, _glasses(rng, stamp, mixed))
    if r < 0.33:
        for d in classes.detections:
            d.results = []
            for _ in range(int(rng.integers(1, 5))):
                h = ObjectHypothesisWithPose()
                h.hypothesis.class_id = ODD_CLASS_IDS[int(rng.integers(len(ODD_CLASS_IDS)))]
                h.hypothesis.score = float(rng.choice([0.0, 1.0, rng.uniform(0.0, 1.0)]))
                d.results.append(h)
        return 'odd_hypotheses', VALID, _localizer_msgs(info, depth, classes)
    if r < 0.34:
        many = [random_box(rng) for _ in range(MAX_GLASSES)]
        return 'max_glasses', VALID, _localizer_msgs(info, depth, _glasses(rng, stamp, many))
    if r < 0.38:
        what = tuple(BAD_CAMERA_INFO)[int(rng.integers(len(BAD_CAMERA_INFO)))]
        info = camera_info(stamp, cam, **BAD_CAMERA_INFO[what])
        return f'camera_info_{what}', VALID, _localizer_msgs(info, depth, classes)
    if r < 0.40:
        return 'camera_info_not_sent', VALID, _localizer_msgs(None, depth, classes)
    if r < 0.62:
        kind, bad = malformed_depth(rng, stamp, depth_m)
        return f'depth_{kind}', MALFORMED, _localizer_msgs(info, bad, classes)
    if r < 0.72:
        names = tuple(BAD_BOX_VALUES) + ('box_far_outside',)
        kind = names[int(rng.integers(len(names)))]
        if kind == 'box_far_outside':
            bad = FAR_BOXES[int(rng.integers(len(FAR_BOXES)))]
        else:
            bad = bad_box(rng, kind)
        mixed = list(boxes) + [bad]
        rng.shuffle(mixed)
        return kind, MALFORMED, _localizer_msgs(info, depth, _glasses(rng, stamp, mixed))
    if r < 0.76:
        classes.detections[int(rng.integers(len(classes.detections)))].results = []
        return 'no_hypotheses', MALFORMED, _localizer_msgs(info, depth, classes)
    if r < 0.81:
        if rng.random() < 0.4:
            kind, score = 'nan_score', math.nan
        else:
            kind = 'score_out_of_range'
            score = float(rng.choice([-0.1, -1e-9, 1.0 + 1e-9, 1.5, 1e30, math.inf, -math.inf]))
        d = classes.detections[int(rng.integers(len(classes.detections)))]
        d.results[int(rng.integers(len(d.results)))].hypothesis.score = score
        return kind, MALFORMED, _localizer_msgs(info, depth, classes)
    if r < 0.84:
        n = int(rng.integers(MAX_GLASSES + 1, 3 * MAX_GLASSES))
        many = [random_box(rng) for _ in range(n)]
        return (
            'too_many_detections',
            MALFORMED,
            _localizer_msgs(info, depth, _glasses(rng, stamp, many)),
        )
    if r < 0.92:  # within the next probe's half second, beyond its reach
        skew = rng.choice([-1.0, 1.0]) * rng.uniform(MAX_DEPTH_SKEW + 0.01, 0.4)
        _, depth = valid_depth(rng, _shifted(stamp, skew), depth_m)
        return 'depth_stamp_mismatch', UNPAIRED, _localizer_msgs(info, depth, classes)
    if r < 0.96:
        return 'classifications_only', UNPAIRED, _localizer_msgs(info, None, classes)
    return 'depth_only', UNPAIRED, _localizer_msgs(info, depth, None)


def localizer_probe(k: int, stamp) -> list:
    """Build what an RGB-D camera and the classifier send for a shipped RGB-D scene."""
    depth_m, cam, boxes, kinds = rgbd_scene(k)
    depth = raw_image(stamp, depth_pixels(depth_m, '16UC1'), '16UC1')
    results = [[(kind if kind in CLASS_NAMES else 'cup', 0.8), ('cup', 0.2)] for kind in kinds]
    classes = detection_array(
        stamp, [detection(stamp, b, res, str(i)) for i, (b, res) in enumerate(zip(boxes, results))]
    )
    return _localizer_msgs(camera_info(stamp, cam), depth, classes)


# ------------------------------------------------------------------------------------------------
# foxglove: glass/debug_image (answered as JPEG on its WebSocket channel) + glass/markers


def odd_markers(rng, stamp):
    """Build a MarkerArray of legal types with odd values: NaN and huge poses and sizes, ..."""
    from visualization_msgs.msg import Marker, MarkerArray

    odd = (math.nan, math.inf, -math.inf, 1e300, -1e300, 0.0, -1.0)
    out = []
    for i in range(int(rng.integers(0, 8))):
        m = Marker(header=Header(frame_id=FRAME_ID if rng.random() < 0.8 else ''), id=i)
        m.header.stamp.sec, m.header.stamp.nanosec = stamp
        m.ns = str(rng.choice(['glasses', 'labels', '', 'x' * 300]))
        m.type = int(rng.choice([1, 2, 3, 9, 0, 4, 11, 255]))
        m.action = int(rng.choice([0, 0, 0, 2, 3, 7]))
        for obj, fields in ((m.pose.position, 'xyz'), (m.scale, 'xyz')):
            for f in fields:
                value = float(rng.uniform(0.01, 1.0))
                if rng.random() < 0.2:
                    value = float(odd[int(rng.integers(len(odd)))])
                setattr(obj, f, value)
        q = rng.normal(size=4) if rng.random() < 0.8 else np.zeros(4)
        m.pose.orientation.x, m.pose.orientation.y, m.pose.orientation.z, m.pose.orientation.w = (
            float(v) for v in q
        )
        # float32 fields: values they hold exactly, so what is sent is what arrives
        rgba = rng.uniform(-1, 2, 4).astype(np.float32)
        m.color.r, m.color.g, m.color.b, m.color.a = (float(v) for v in rgba)
        m.text = str(rng.choice(['beer 0.91', '', '\u2603' * 50, 'x' * 5000]))
        m.lifetime.sec = int(rng.integers(0, 10))
        m.frame_locked = bool(rng.integers(2))
        out.append(m)
    return MarkerArray(markers=out)


def _foxglove_case(rng, stamp) -> tuple[str, str, list]:
    kind, expect, [(_, msg)] = _detector_case(rng, stamp)  # the detector's images, as debug images
    if rng.random() < 0.5:  # the 3D scene too, odd or not: it must never stop the images
        return f'{kind}+markers', expect, [(MARKERS, odd_markers(rng, stamp)), (DEBUG, msg)]
    return kind, expect, [(DEBUG, msg)]


def foxglove_probe(k: int, stamp) -> list:
    """Build a plain valid debug image (bgr8 synthetic scene)."""
    return [(DEBUG, raw_image(stamp, scene(k), 'bgr8'))]


# ------------------------------------------------------------------------------------------------

_BUILDERS = {
    'detector': _detector_case,
    'classifier': _classifier_case,
    'overlay': _overlay_case,
    'localizer': _localizer_case,
    'foxglove': _foxglove_case,
}
_PROBES = {
    'detector': detector_probe,
    'classifier': classifier_probe,
    'overlay': overlay_probe,
    'localizer': localizer_probe,
    'foxglove': foxglove_probe,
}


def case(seed: int, target: str, index: int) -> Case:
    """Case ``index`` of ``target``'s stream for ``seed``, built from its own generator."""
    if target not in _BUILDERS:
        raise ValueError(f"unknown target '{target}' (one of {', '.join(TARGETS)})")
    rng = np.random.default_rng([int(seed), TARGETS.index(target), int(index)])
    stamp = (BASE_SEC + int(index), 0)
    kind, expect, msgs = _BUILDERS[target](rng, stamp)
    return Case(target, int(index), kind, expect, stamp, msgs, _also_rejected(expect, msgs))


def _also_rejected(expect: str, msgs) -> int:
    """Count the bad camera_infos of a valid case (rejected, the last good one kept)."""
    if expect != VALID:
        return 0
    return sum(topic == CAMERA_INFO and not good_camera_info(m) for topic, m in msgs)


def cases(seed: int, n: int, target: str, start: int = 0):
    """Yield the first ``n`` of ``target``'s cases for ``seed``, from ``start`` on."""
    for i in range(start, start + n):
        yield case(seed, target, i)


def probe(target: str, k: int, stamp: tuple[int, int]) -> Case:
    """
    Build a plain valid input (synthetic frame ``k``) stamped ``stamp``.

    That is what a healthy camera sends.
    """
    return Case(target, -1, 'probe', VALID, tuple(stamp), _PROBES[target](k, stamp))
