"""
sensor_msgs/Image <-> numpy without cv_bridge.

No ROS imports: works on any object with the Image fields (height, width, encoding, is_bigendian,
step, data).

Every message is checked before it is read: a size, step or encoding that does not add up raises
:class:`ImageError` (a ValueError) with a short reason, and nothing is read out of bounds.
"""

from __future__ import annotations

import array
from dataclasses import dataclass

import cv2
import numpy as np

MAX_SIDE = 16384  # larger sides are rejected as malformed rather than allocated
MAX_BYTES = 256 << 20


@dataclass(frozen=True)
class Encoding:
    dtype: str  # numpy dtype of one channel, little-endian form
    channels: int
    to_bgr: int | None  # cv2 conversion code to BGR, None when already BGR


# The encodings ROS camera drivers publish (sensor_msgs/image_encodings.hpp names).
ENCODINGS: dict[str, Encoding] = {
    'bgr8': Encoding('u1', 3, None),
    'rgb8': Encoding('u1', 3, cv2.COLOR_RGB2BGR),
    'bgra8': Encoding('u1', 4, cv2.COLOR_BGRA2BGR),
    'rgba8': Encoding('u1', 4, cv2.COLOR_RGBA2BGR),
    'mono8': Encoding('u1', 1, cv2.COLOR_GRAY2BGR),
    '8UC1': Encoding('u1', 1, cv2.COLOR_GRAY2BGR),
    '8UC3': Encoding('u1', 3, None),
    'mono16': Encoding('u2', 1, cv2.COLOR_GRAY2BGR),
    '16UC1': Encoding('u2', 1, cv2.COLOR_GRAY2BGR),
    # packed 4:2:2, two bytes a pixel: "yuv422"/"uyvy" is U Y0 V Y1,
    # "yuv422_yuy2"/"yuyv" is Y0 U Y1 V
    'yuv422': Encoding('u1', 2, cv2.COLOR_YUV2BGR_UYVY),
    'uyvy': Encoding('u1', 2, cv2.COLOR_YUV2BGR_UYVY),
    'yuv422_yuy2': Encoding('u1', 2, cv2.COLOR_YUV2BGR_YUY2),
    'yuyv': Encoding('u1', 2, cv2.COLOR_YUV2BGR_YUY2),
}


class ImageError(ValueError):
    """An Image message that cannot be read as it claims to be."""


#: The depth encodings RGB-D drivers publish: millimetres (0 = no reading) and metres.
DEPTH_ENCODINGS: dict[str, Encoding] = {
    '16UC1': Encoding('u2', 1, None),
    '32FC1': Encoding('f4', 1, None),
}


def bytes_per_pixel(encoding: str, encodings: dict[str, Encoding] = ENCODINGS) -> int:
    e = encodings[encoding]
    return np.dtype(e.dtype).itemsize * e.channels


def image_to_array(msg, encodings: dict[str, Encoding] = ENCODINGS) -> np.ndarray:
    """
    Return the pixels as (H, W) or (H, W, C) in the message's own encoding, native byte order.

    ``encodings`` are those accepted (the colour ones by default). The array is a copy only
    where byte order or row padding requires one.
    """
    enc = msg.encoding
    if enc not in encodings:
        raise ImageError(
            f"unsupported encoding '{enc[:32]}' (supported: {', '.join(sorted(encodings))})"
        )
    e = encodings[enc]
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    if not (0 < h <= MAX_SIDE and 0 < w <= MAX_SIDE):
        raise ImageError(f'bad size {w}x{h}')
    if e.channels == 2 and w % 2:
        raise ImageError(f'{enc} needs an even width, got {w}')
    row = w * bytes_per_pixel(enc, encodings)
    if step < row:
        raise ImageError(f'step {step} is less than width x bytes per pixel = {row}')
    if step * h > MAX_BYTES:
        raise ImageError(f'image of {step * h} bytes exceeds the {MAX_BYTES} byte limit')
    data = msg.data
    size = len(data) if not isinstance(data, array.array) else len(data) * data.itemsize
    if size != step * h:
        raise ImageError(f'data has {size} bytes, step x height = {step * h}')
    itemsize = np.dtype(e.dtype).itemsize
    if itemsize > 1 and step % itemsize:
        raise ImageError(f'step {step} is not a multiple of the {itemsize}-byte channel')
    buf = np.frombuffer(data, dtype=np.uint8)
    rows = buf.reshape(h, step)[:, :row]
    dtype = (
        np.dtype(e.dtype).newbyteorder('>' if msg.is_bigendian else '<')
        if itemsize > 1
        else np.dtype(e.dtype)
    )
    arr = np.ascontiguousarray(rows).view(dtype)
    if itemsize > 1:
        arr = arr.astype(np.dtype(e.dtype).newbyteorder('='), copy=False)
    if e.channels == 1:
        return arr.reshape(h, w)
    return arr.reshape(h, w, e.channels)


def image_to_depth(msg) -> np.ndarray:
    """
    Return a depth Image (16UC1 mm or 32FC1 m) as float32 metres; NaN where there is no reading.

    Zero, negative, NaN and infinite readings all mean "no reading". Other encodings raise
    ImageError, as a malformed message does.
    """
    arr = image_to_array(msg, DEPTH_ENCODINGS)
    if arr.dtype == np.uint16:
        out = arr.astype(np.float32) * np.float32(0.001)
    else:
        out = arr.astype(np.float32, copy=True)
    out[~(np.isfinite(out) & (out > 0))] = np.nan
    return out


def image_to_bgr(msg) -> np.ndarray:
    """Any supported Image as an (H, W, 3) uint8 BGR array, the form the models take."""
    arr = image_to_array(msg)
    e = ENCODINGS[msg.encoding]
    if arr.dtype != np.uint8:  # 16-bit mono: keep the high byte
        arr = (arr >> 8).astype(np.uint8)
    if e.to_bgr is None:
        return arr
    return cv2.cvtColor(arr, e.to_bgr)


def fill_image(msg, array_bgr: np.ndarray, encoding: str = 'bgr8'):
    """
    Fill an Image message (header untouched) from an array in ``encoding``; returns ``msg``.

    ``encoding`` is a colour one or a depth one (16UC1 millimetres, 32FC1 metres).
    """
    table = ENCODINGS if encoding in ENCODINGS else DEPTH_ENCODINGS
    if encoding not in table:
        raise ImageError(f"unsupported encoding '{encoding}'")
    e = table[encoding]
    a = np.ascontiguousarray(array_bgr)
    want = 2 if e.channels == 1 else 3
    if (
        a.ndim != want
        or (a.ndim == 3 and a.shape[2] != e.channels)
        or a.dtype != np.dtype(e.dtype)
    ):
        raise ImageError(f'array of shape {a.shape} and {a.dtype} is not {encoding}')
    msg.height, msg.width = int(a.shape[0]), int(a.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = int(a.shape[1] * bytes_per_pixel(encoding, table))
    data = array.array('B')
    data.frombytes(a.tobytes())  # array.array assigns without a per-element check in rclpy
    msg.data = data
    return msg
