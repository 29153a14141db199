"""
sensor_msgs/Image (and CompressedImage, as image_transport's compressed plugins) <-> numpy.

Without cv_bridge.

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


#: image_transport's compressedDepth prefix: a ConfigHeader (int32 format, float32 x2)
COMPRESSED_DEPTH_HEADER = 12
#: the CompressedImage formats image_transport's compressed and compressedDepth plugins write
JPEG_FORMAT = 'bgr8; jpeg compressed bgr8'
DEPTH_FORMAT = '16UC1; compressedDepth png'


def is_compressed(msg) -> bool:
    """Tell a sensor_msgs/CompressedImage (format, data) from an Image (encoding, step, ...)."""
    return hasattr(msg, 'format') and not hasattr(msg, 'encoding')


def describe(msg) -> str:
    """Say what an image message claims to be, for a rejection line."""
    if is_compressed(msg):
        return f'compressed {str(msg.format)[:40]!r}, {len(msg.data)} bytes'
    return f'{msg.width}x{msg.height} {str(msg.encoding)[:20]!r}'


def compressed_to_bgr(msg) -> np.ndarray:
    """Return a CompressedImage (JPEG or PNG, as image_transport's compressed) as BGR uint8."""
    data = np.frombuffer(bytes(msg.data), np.uint8)
    if data.size == 0 or data.size > MAX_BYTES:
        raise ImageError(f'compressed image of {data.size} bytes')
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if img is None:
        raise ImageError(f"compressed image ('{str(msg.format)[:40]}') does not decode")
    return img


def compressed_depth_mm(data: bytes, fmt: str) -> np.ndarray:
    """
    Return compressedDepth data (image_transport's: a 12-byte header, then a 16-bit PNG) in mm.

    Without the header (``fmt`` not naming compressedDepth) the data is taken as the PNG itself.
    Anything but a single-channel 16-bit PNG raises ImageError (32FC1's inverse-depth
    quantisation is not read).
    """
    raw = bytes(data)
    if 'compressedDepth' in fmt:
        raw = raw[COMPRESSED_DEPTH_HEADER:]
    arr = np.frombuffer(raw, np.uint8)
    dep = cv2.imdecode(arr, cv2.IMREAD_UNCHANGED) if 0 < arr.size <= MAX_BYTES else None
    if dep is None or dep.dtype != np.uint16 or dep.ndim != 2:
        raise ImageError(f"compressed depth ('{fmt[:40]}') is not a 16-bit PNG of millimetres")
    return dep


def compress_bgr(bgr: np.ndarray, quality: int = 90) -> bytes:
    """Encode BGR as JPEG, what image_transport's compressed plugin publishes."""
    ok, jpg = cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ImageError('the image does not encode as JPEG')
    return jpg.tobytes()


def compress_depth_mm(mm: np.ndarray) -> bytes:
    """Encode uint16 millimetres as compressedDepth: a zeroed 12-byte header, then PNG."""
    ok, png = cv2.imencode('.png', mm, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise ImageError('the depth image does not encode as PNG')
    return bytes(COMPRESSED_DEPTH_HEADER) + png.tobytes()


def image_to_depth(msg) -> np.ndarray:
    """
    Return a depth Image (16UC1 mm or 32FC1 m) as float32 metres; NaN where there is no reading.

    Zero, negative, NaN and infinite readings all mean "no reading". Other encodings raise
    ImageError, as a malformed message does. A CompressedImage in compressedDepth (16UC1) is
    read too.
    """
    if is_compressed(msg):
        arr = compressed_depth_mm(msg.data, str(msg.format))
    else:
        arr = image_to_array(msg, DEPTH_ENCODINGS)
    if arr.dtype == np.uint16:
        out = arr.astype(np.float32) * np.float32(0.001)
    else:
        out = arr.astype(np.float32, copy=True)
    out[~(np.isfinite(out) & (out > 0))] = np.nan
    return out


def image_to_bgr(msg) -> np.ndarray:
    """Any supported Image or CompressedImage as an (H, W, 3) uint8 BGR array (the models')."""
    if is_compressed(msg):
        return compressed_to_bgr(msg)
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
