"""glass_perception.core.image_codec: sensor_msgs/Image <-> numpy without cv_bridge."""

from __future__ import annotations

import array
from dataclasses import dataclass, field
import os
import sys
import tempfile

import cv2
from glass_perception.core.image_codec import (
    bytes_per_pixel,
    ENCODINGS,
    fill_image,
    image_to_array,
    image_to_bgr,
    ImageError,
    MAX_BYTES,
    MAX_SIDE,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
import numpy as np
import pytest

# Hypothesis keeps caches in ./.hypothesis by default; keep the checkout clean.
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), 'glass_perception_hypothesis'))


@dataclass
class FakeImage:
    """The fields of sensor_msgs/Image that the codec reads, nothing else."""

    height: int = 0
    width: int = 0
    encoding: str = ''
    is_bigendian: int = 0
    step: int = 0
    data: object = field(default_factory=bytes)


def raw(h, w, encoding, data, step=None, is_bigendian=0):
    return FakeImage(
        h, w, encoding, is_bigendian, w * bytes_per_pixel(encoding) if step is None else step, data
    )


# One 2x2 test picture per encoding, written with known colours: red, green, blue, white (BGR order
# below).
BGR = np.array([[[0, 0, 255], [0, 255, 0]], [[255, 0, 0], [255, 255, 255]]], np.uint8)


def test_error_is_a_value_error():
    assert issubclass(ImageError, ValueError)


def test_bytes_per_pixel():
    assert bytes_per_pixel('bgr8') == 3
    assert bytes_per_pixel('rgba8') == 4
    assert bytes_per_pixel('mono8') == 1
    assert bytes_per_pixel('mono16') == 2
    assert bytes_per_pixel('yuv422') == 2


@pytest.mark.parametrize(
    'encoding, pixels',
    [
        ('bgr8', BGR),
        ('rgb8', BGR[..., ::-1]),
        ('bgra8', np.dstack([BGR, np.full((2, 2), 7, np.uint8)])),
        ('rgba8', np.dstack([BGR[..., ::-1], np.full((2, 2), 7, np.uint8)])),
    ],
)
def test_colour_roundtrip_keeps_channel_order(encoding, pixels):
    msg = fill_image(FakeImage(), np.ascontiguousarray(pixels), encoding)
    assert (msg.height, msg.width, msg.encoding, msg.is_bigendian) == (2, 2, encoding, 0)
    assert msg.step == 2 * pixels.shape[2]
    assert bytes(msg.data) == np.ascontiguousarray(pixels).tobytes()
    np.testing.assert_array_equal(image_to_array(msg), pixels)
    # whatever the wire order, the BGR view is red, green / blue, white
    np.testing.assert_array_equal(image_to_bgr(msg), BGR)


def test_rgb8_bytes_are_red_first():
    msg = raw(1, 1, 'rgb8', bytes([200, 10, 20]))
    assert image_to_bgr(msg)[0, 0].tolist() == [20, 10, 200]


def test_mono8_roundtrip():
    gray = np.array([[0, 50], [128, 255]], np.uint8)
    msg = fill_image(FakeImage(), gray, 'mono8')
    np.testing.assert_array_equal(image_to_array(msg), gray)
    bgr = image_to_bgr(msg)
    assert bgr.shape == (2, 2, 3)
    np.testing.assert_array_equal(bgr, np.repeat(gray[..., None], 3, axis=2))


def test_mono16_roundtrip_and_high_byte_to_bgr():
    gray = np.array([[0, 0x01FF], [0x8000, 0xFFFF]], np.uint16)
    msg = fill_image(FakeImage(), gray, 'mono16')
    assert msg.step == 4 and msg.is_bigendian == 0
    assert bytes(msg.data) == gray.astype('<u2').tobytes()
    out = image_to_array(msg)
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, gray)
    np.testing.assert_array_equal(image_to_bgr(msg)[..., 0], [[0, 1], [0x80, 0xFF]])


def test_mono16_big_endian_bytes():
    # 0x0102 = 258 and 0xA0B0 = 41136, written most significant byte first
    msg = raw(1, 2, 'mono16', bytes([0x01, 0x02, 0xA0, 0xB0]), is_bigendian=1)
    out = image_to_array(msg)
    assert out.tolist() == [[258, 41136]]
    assert out.dtype.isnative
    # the same bytes read as little-endian are different numbers
    msg.is_bigendian = 0
    assert image_to_array(msg).tolist() == [[0x0201, 0xB0A0]]


def test_mono16_from_uint16_array_array():
    data = array.array('H', [1, 2, 3, 60000])  # native order, 2 bytes an item
    if data.itemsize != 2:
        pytest.skip("array 'H' is not 2 bytes here")
    msg = raw(2, 2, '16UC1', data, is_bigendian=int(sys.byteorder == 'big'))
    assert image_to_array(msg).tolist() == [[1, 2], [3, 60000]]


@pytest.mark.parametrize('encoding', ['bgr8', 'mono8', 'mono16', 'rgba8', 'yuv422'])
def test_row_padding_is_skipped(encoding):
    h, w, pad = 3, 4, 5
    bpp = bytes_per_pixel(encoding)
    row = w * bpp
    step = row + pad + (pad % 2 if bpp % 2 == 0 else 0)  # 16-bit rows stay 2-byte aligned
    rng = np.random.default_rng(1)
    payload = rng.integers(0, 256, (h, row), dtype=np.uint8)
    padded = np.full((h, step), 0xEE, np.uint8)
    padded[:, :row] = payload
    msg = raw(h, w, encoding, padded.tobytes(), step=step)
    out = image_to_array(msg)
    e = ENCODINGS[encoding]
    assert out.shape == ((h, w) if e.channels == 1 else (h, w, e.channels))
    assert out.astype(out.dtype.newbyteorder('<')).tobytes() == payload.tobytes()
    assert image_to_bgr(msg).shape == (h, w, 3)


def test_fill_image_on_real_sensor_msgs_image():
    from sensor_msgs.msg import Image

    msg = Image()
    msg.header.frame_id = 'cam'
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    assert fill_image(msg, pixels, 'bgr8') is msg
    assert msg.header.frame_id == 'cam'  # header untouched
    assert (msg.height, msg.width, msg.step, msg.encoding) == (5, 7, 21, 'bgr8')
    np.testing.assert_array_equal(image_to_bgr(msg), pixels)

    fill_image(msg, pixels[..., ::-1].copy(), 'rgb8')
    np.testing.assert_array_equal(image_to_bgr(msg), pixels)

    deep = rng.integers(0, 65536, (4, 6), dtype=np.uint16)
    fill_image(msg, deep, 'mono16')
    np.testing.assert_array_equal(image_to_array(msg), deep)


def test_real_image_big_endian_mono16():
    from sensor_msgs.msg import Image

    values = np.array([[1, 256, 65535]], np.uint16)
    msg = Image(
        height=1,
        width=3,
        encoding='mono16',
        is_bigendian=1,
        step=6,
        data=values.astype('>u2').tobytes(),
    )
    np.testing.assert_array_equal(image_to_array(msg), values)


# ---- packed YUV 4:2:2 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    'encoding, code',
    [
        ('yuv422', cv2.COLOR_YUV2BGR_UYVY),
        ('uyvy', cv2.COLOR_YUV2BGR_UYVY),
        ('yuv422_yuy2', cv2.COLOR_YUV2BGR_YUY2),
        ('yuyv', cv2.COLOR_YUV2BGR_YUY2),
    ],
)
def test_yuv_matches_opencv(encoding, code):
    h, w = 6, 8
    packed = np.random.default_rng(5).integers(0, 256, (h, w * 2), dtype=np.uint8)
    msg = raw(h, w, encoding, packed.tobytes())
    assert image_to_array(msg).shape == (h, w, 2)
    np.testing.assert_array_equal(image_to_bgr(msg), cv2.cvtColor(packed.reshape(h, w, 2), code))


def test_uyvy_and_yuyv_read_luma_from_different_bytes():
    # neutral chroma (128) and two different lumas: the dark pixel must come out left in both
    # layouts
    uyvy = raw(1, 2, 'yuv422', bytes([128, 50, 128, 200]))
    yuyv = raw(1, 2, 'yuv422_yuy2', bytes([50, 128, 200, 128]))
    for msg in (uyvy, yuyv):
        bgr = image_to_bgr(msg).astype(int)
        left, right = bgr[0, 0], bgr[0, 1]
        assert max(left) - min(left) <= 2 and max(right) - min(right) <= 2  # grey
        assert left[0] < 60 and right[0] > 190
    # the UYVY bytes read as YUYV are a different picture (luma 128 twice)
    swapped = image_to_bgr(raw(1, 2, 'yuv422_yuy2', bytes([128, 50, 128, 200])))
    assert abs(int(swapped[0, 0, 1]) - int(swapped[0, 1, 1])) < 5


def test_yuv_with_padding():
    h, w, step = 2, 4, 12
    packed = np.random.default_rng(9).integers(0, 256, (h, step), dtype=np.uint8)
    msg = raw(h, w, 'yuv422', packed.tobytes(), step=step)
    expect = cv2.cvtColor(
        np.ascontiguousarray(packed[:, : w * 2]).reshape(h, w, 2), cv2.COLOR_YUV2BGR_UYVY
    )
    np.testing.assert_array_equal(image_to_bgr(msg), expect)


# ---- rejections ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    'msg, words',
    [
        (FakeImage(2, 2, 'bgr16', 0, 12, bytes(24)), 'unsupported encoding'),
        (FakeImage(2, 2, '', 0, 6, bytes(12)), 'unsupported encoding'),
        (FakeImage(0, 2, 'mono8', 0, 2, b''), 'bad size'),
        (FakeImage(2, 0, 'mono8', 0, 0, b''), 'bad size'),
        (FakeImage(-1, 2, 'mono8', 0, 2, b''), 'bad size'),
        (FakeImage(MAX_SIDE + 1, 1, 'mono8', 0, 1, bytes(MAX_SIDE + 1)), 'bad size'),
        (FakeImage(1, MAX_SIDE + 1, 'mono8', 0, MAX_SIDE + 1, bytes(MAX_SIDE + 1)), 'bad size'),
        (FakeImage(MAX_SIDE, MAX_SIDE, 'bgra8', 0, MAX_SIDE * 4, b''), 'byte limit'),
        (FakeImage(2, 3, 'bgr8', 0, 8, bytes(16)), 'step 8 is less'),
        (FakeImage(2, 3, 'bgr8', 0, -9, bytes(18)), 'less than'),
        (FakeImage(2, 3, 'bgr8', 0, 9, bytes(17)), 'data has 17 bytes'),
        (FakeImage(2, 3, 'bgr8', 0, 9, bytes(19)), 'data has 19 bytes'),
        (FakeImage(2, 3, 'bgr8', 0, 9, b''), 'data has 0 bytes'),
        (FakeImage(2, 3, 'yuv422', 0, 6, bytes(12)), 'even width'),
        (FakeImage(2, 3, 'yuv422_yuy2', 0, 6, bytes(12)), 'even width'),
        (FakeImage(2, 2, 'mono16', 0, 5, bytes(10)), 'multiple of'),
    ],
    ids=lambda v: v if isinstance(v, str) else '',
)
def test_rejects_malformed_messages(msg, words):
    with pytest.raises(ImageError, match=words):
        image_to_array(msg)
    with pytest.raises(ImageError):
        image_to_bgr(msg)


@pytest.mark.parametrize(
    'array_, encoding',
    [
        (np.zeros((2, 2, 3), np.uint8), 'bgr16'),  # unknown encoding
        (np.zeros((2, 2), np.uint8), 'bgr8'),  # missing channels
        (np.zeros((2, 2, 4), np.uint8), 'bgr8'),  # wrong channel count
        (np.zeros((2, 2, 3), np.uint16), 'bgr8'),  # wrong dtype
        (np.zeros((2, 2), np.uint8), 'mono16'),
        (np.zeros((2, 2, 1), np.uint8), 'mono8'),
    ],
)
def test_fill_image_rejects_arrays_that_do_not_fit(array_, encoding):
    with pytest.raises(ImageError):
        fill_image(FakeImage(), array_, encoding)


# ---- fuzzing: decode to the advertised shape, or ImageError, nothing else -----------------------

UNKNOWN = ['bgr16', '32FC1', 'BGR8', '', 'yuv420']


def expected_shape(h, w, step, size, encoding):
    """
    Return the shape a well-formed message decodes to, None when it is malformed.

    An oracle from the spec.
    """
    if encoding not in ENCODINGS:
        return None
    e = ENCODINGS[encoding]
    itemsize = np.dtype(e.dtype).itemsize
    row = w * itemsize * e.channels
    if (
        not (0 < h <= MAX_SIDE and 0 < w <= MAX_SIDE)
        or (e.channels == 2 and w % 2)
        or step < row
        or step * h > MAX_BYTES
        or size != step * h
        or step % itemsize
    ):
        return None
    return (h, w) if e.channels == 1 else (h, w, e.channels)


@st.composite
def image_messages(draw):
    """
    Draw a message, well-formed (with row padding) about half the time.

    The others have one or more fields gone wrong.
    """
    well_formed = draw(st.booleans())
    if well_formed:
        encoding = draw(st.sampled_from(sorted(ENCODINGS)))
        h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
        if ENCODINGS[encoding].channels == 2:
            w += w % 2
        itemsize = np.dtype(ENCODINGS[encoding].dtype).itemsize
        step = w * bytes_per_pixel(encoding) + itemsize * draw(st.integers(0, 3))
        size = step * h
    else:
        encoding = draw(st.sampled_from(sorted(ENCODINGS) + UNKNOWN))
        side = st.one_of(
            st.integers(1, 9), st.integers(-3, 0), st.integers(MAX_SIDE - 1, MAX_SIDE + 2)
        )
        h, w = draw(side), draw(side)
        row = w * (bytes_per_pixel(encoding) if encoding in ENCODINGS else 3)
        step = draw(
            st.one_of(
                st.just(row),
                st.integers(row, row + 7),
                st.integers(-4, max(row + 7, 0)),
                st.integers(0, 1 << 40),
            )
        )
        exact = step * h
        size = max(
            0,
            draw(
                st.one_of(st.just(exact), st.integers(exact - 3, exact + 3), st.integers(0, 300))
                if 0 <= exact <= 300_000
                else st.integers(0, 300)
            ),
        )
    data = (
        np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        .integers(0, 256, size, dtype=np.uint8)
        .tobytes()
    )
    return FakeImage(h, w, encoding, draw(st.integers(0, 1)), step, data)


@settings(max_examples=300, deadline=None, database=None)
@given(image_messages())
def test_fuzz_decodes_exact_shape_or_raises_image_error(msg):
    want = expected_shape(msg.height, msg.width, msg.step, len(msg.data), msg.encoding)
    if want is None:
        with pytest.raises(ImageError):
            image_to_array(msg)
        with pytest.raises(ImageError):
            image_to_bgr(msg)
        return
    out = image_to_array(msg)
    assert out.shape == want
    # the pixels are exactly the first width x bpp bytes of every row, in the message's byte order
    row = msg.width * bytes_per_pixel(msg.encoding)
    rows = b''.join(msg.data[r * msg.step: r * msg.step + row] for r in range(msg.height))
    wire = (
        out.dtype.newbyteorder('>' if msg.is_bigendian else '<')
        if out.dtype.itemsize > 1
        else out.dtype
    )
    assert out.astype(wire).tobytes() == rows
    bgr = image_to_bgr(msg)
    assert bgr.shape == (msg.height, msg.width, 3) and bgr.dtype == np.uint8


def test_compressed_images_as_image_transport_sends_them_are_read():
    from types import SimpleNamespace

    from glass_perception.core.image_codec import (
        compress_bgr,
        compress_depth_mm,
        DEPTH_FORMAT,
        describe,
        image_to_bgr,
        image_to_depth,
        ImageError,
        JPEG_FORMAT,
    )
    import pytest

    bgr = np.zeros((48, 64, 3), np.uint8)
    bgr[:, 32:] = (0, 0, 255)
    jpeg = SimpleNamespace(format=JPEG_FORMAT, data=compress_bgr(bgr, 90))
    out = image_to_bgr(jpeg)
    assert out.shape == (48, 64, 3) and out[20, 50, 2] > 230 and out[20, 10, 2] < 20
    mm = np.full((48, 64), 750, np.uint16)
    mm[0, 0] = 0
    png = SimpleNamespace(format=DEPTH_FORMAT, data=compress_depth_mm(mm))
    metres = image_to_depth(png)  # lossless, header skipped, 0 = no reading
    assert metres[5, 5] == pytest.approx(0.75) and np.isnan(metres[0, 0])
    assert 'compressed' in describe(jpeg) and 'bytes' in describe(jpeg)
    for bad in (
        SimpleNamespace(format=JPEG_FORMAT, data=b'not a jpeg'),
        SimpleNamespace(format=JPEG_FORMAT, data=b''),
    ):
        with pytest.raises(ImageError):
            image_to_bgr(bad)
    with pytest.raises(ImageError, match='16-bit PNG'):
        image_to_depth(SimpleNamespace(format=DEPTH_FORMAT, data=bytes(12) + jpeg.data))
