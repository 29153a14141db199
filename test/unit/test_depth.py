"""Depth images: 16UC1 millimetres and 32FC1 metres in, NaN for no reading, bad ones refused."""

import array

from glass_perception.core.image_codec import fill_image, image_to_depth, ImageError
from glass_perception.core.pairing import NearestStamp
import numpy as np
import pytest
from sensor_msgs.msg import Image


def test_millimetres_become_metres_and_zero_no_reading():
    mm = np.array([[0, 1000, 65535], [250, 1, 2000]], np.uint16)
    depth = image_to_depth(fill_image(Image(), mm, '16UC1'))
    assert depth.dtype == np.float32
    assert np.isnan(depth[0, 0])
    assert depth[0, 1] == pytest.approx(1.0) and depth[1, 0] == pytest.approx(0.25)


def test_metres_keep_their_value_and_nan_inf_or_negative_mean_no_reading():
    m = np.array([[0.5, np.nan, np.inf], [-1.0, 0.0, 2.25]], np.float32)
    depth = image_to_depth(fill_image(Image(), m, '32FC1'))
    assert depth[0, 0] == pytest.approx(0.5) and depth[1, 2] == pytest.approx(2.25)
    assert np.isnan(depth[[0, 0, 1, 1], [1, 2, 0, 1]]).all()


def test_big_endian_16uc1_is_read_in_its_byte_order():
    mm = np.array([[1234, 4321]], np.uint16)
    msg = Image(height=1, width=2, encoding='16UC1', is_bigendian=1, step=4)
    msg.data = array.array('B', mm.astype('>u2').tobytes())
    assert image_to_depth(msg)[0].tolist() == pytest.approx([1.234, 4.321])


@pytest.mark.parametrize('encoding', ['bgr8', 'mono8', '16SC1', 'rgb16'])
def test_other_encodings_are_refused(encoding):
    msg = Image(height=2, width=2, encoding=encoding, step=2)
    msg.data = array.array('B', bytes(4))
    with pytest.raises(ImageError, match='unsupported encoding'):
        image_to_depth(msg)


def test_truncated_depth_is_refused():
    msg = fill_image(Image(), np.ones((4, 4), np.uint16), '16UC1')
    msg.data = msg.data[:-3]
    with pytest.raises(ImageError, match='bytes'):
        image_to_depth(msg)


def test_nearest_stamp_within_the_skew_and_only_then():
    buf = NearestStamp(capacity=3, max_skew=0.02)
    for t in (1.00, 1.10, 1.20, 1.30):
        buf.add(t, f'd{t:.2f}')
    assert len(buf) == 3 and buf.newest == pytest.approx(1.30)
    assert buf.nearest(1.205) == ('d1.20', pytest.approx(0.005))
    assert buf.nearest(1.25) is None  # 50 ms from either
    assert buf.nearest(1.00) is None  # evicted
