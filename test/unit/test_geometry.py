"""glass_perception.core.geometry: boxes, square crops that keep proportions, crop stacking."""

from __future__ import annotations

import math

from glass_perception.core.geometry import (
    Box,
    FILL_VALUE,
    square_crop,
    square_region,
    stack_crops,
    unstack_crops,
)
import numpy as np
import pytest


def white_extent(crop: np.ndarray):
    """(x0, y0, x1, y1) of the bright pixels of a crop, end-exclusive."""
    ys, xs = np.nonzero(crop[..., 0] > 127)
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1


# ---- Box ----------------------------------------------------------------------------------------


def test_xyxy_roundtrip():
    b = Box.from_xyxy(10, 20, 50, 100)
    assert b == Box(30.0, 60.0, 40.0, 80.0)
    assert b.xyxy() == (10.0, 20.0, 50.0, 100.0)


def test_iou_basics():
    a = Box(1, 1, 2, 2)  # 0..2 x 0..2
    b = Box(2, 1, 2, 2)  # 1..3 x 0..2: overlap 2, union 6
    assert a.iou(a) == pytest.approx(1.0)
    assert a.iou(b) == pytest.approx(1 / 3)
    assert b.iou(a) == pytest.approx(a.iou(b))
    assert a.iou(Box(10, 10, 2, 2)) == 0.0
    assert a.iou(Box(3, 1, 2, 2)) == 0.0  # touching edges share no area
    assert Box(5, 5, 10, 10).iou(Box(5, 5, 5, 5)) == pytest.approx(0.25)  # nested
    assert Box(0, 0, 0, 0).iou(Box(0, 0, 0, 0)) == 0.0  # no area at all: 0, not a division error


@pytest.mark.parametrize(
    'box, valid',
    [
        (Box(1, 1, 2, 2), True),
        (Box(1, 1, 0, 2), False),
        (Box(1, 1, 2, -1), False),
        (Box(math.nan, 1, 2, 2), False),
        (Box(1, 1, math.inf, 2), False),
    ],
)
def test_is_valid(box, valid):
    assert box.is_valid() is valid


# ---- square_region -----------------------------------------------------------------------------


def test_tall_box_gives_square_of_its_height_centred_on_it():
    box = Box(100, 200, 20, 100)
    x0, y0, side = square_region(box, 0.1)
    assert side == round(100 * (1 + 2 * 0.1)) == 120
    assert (x0 + side / 2, y0 + side / 2) == (100, 200)


def test_wide_box_uses_its_width():
    x0, y0, side = square_region(Box(50, 50, 80, 10), 0.25)
    assert side == 120 and (x0, y0) == (-10, -10)


def test_zero_padding_and_tiny_box():
    assert square_region(Box(10, 10, 30, 30), 0.0) == (-5, -5, 30)
    assert square_region(Box(10, 10, 0.2, 0.2), 0.0)[2] == 1  # at least one pixel


@pytest.mark.parametrize(
    'box',
    [
        Box(math.nan, 0, 10, 10),
        Box(0, math.nan, 10, 10),
        Box(0, 0, math.nan, 10),
        Box(0, 0, 0, 10),
        Box(0, 0, 10, 0),
        Box(0, 0, -5, 10),
        Box(0, 0, 10, math.inf),
    ],
)
def test_invalid_boxes_are_refused(box):
    with pytest.raises(ValueError, match='invalid box'):
        square_region(box, 0.1)
    with pytest.raises(ValueError):
        square_crop(np.zeros((50, 50, 3), np.uint8), box, 0.1, 32)


@pytest.mark.parametrize('padding', [-0.01, 2.01, math.nan])
def test_padding_out_of_range(padding):
    with pytest.raises(ValueError, match='padding'):
        square_region(Box(10, 10, 5, 5), padding)


# ---- square_crop ------------------------------------------------------------------------------


def test_crop_keeps_a_tall_object_tall():
    img = np.zeros((300, 300, 3), np.uint8)
    img[100:200, 140:160] = 255  # a 20 x 100 white bar
    box = Box.from_xyxy(140, 100, 160, 200)
    crop = square_crop(img, box, 0.1, 96)
    assert crop.shape == (96, 96, 3) and crop.dtype == np.uint8
    x0, y0, x1, y1 = white_extent(crop)
    aspect = (y1 - y0) / (x1 - x0)
    assert 4.5 <= aspect <= 5.5  # still 1:5, not squashed to a square
    # 120-pixel square -> 96: the bar is 16 x 80, centred
    assert abs((y1 - y0) - 80) <= 2 and abs((x1 - x0) - 16) <= 2
    assert abs((x0 + x1) / 2 - 48) <= 1 and abs((y0 + y1) / 2 - 48) <= 1


def test_crop_inside_image_at_native_size_is_the_pixels():
    img = np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    crop = square_crop(img, Box.from_xyxy(10, 20, 40, 50), 0.0, 30)
    np.testing.assert_array_equal(crop, img[20:50, 10:40])


def test_out_of_image_is_filled_and_object_not_shifted():
    img = np.zeros((100, 100, 3), np.uint8)
    crop = square_crop(img, Box(5, 5, 20, 20), 0.0, 20)  # square spans -5..15 on both axes
    assert (crop[:5, :] == FILL_VALUE).all()
    assert (crop[:, :5] == FILL_VALUE).all()
    assert (crop[5:, 5:] == 0).all()


def test_box_completely_outside_gives_fill_only():
    img = np.full((50, 50, 3), 255, np.uint8)
    crop = square_crop(img, Box(500, 500, 10, 10), 0.1, 16)
    assert (crop == FILL_VALUE).all()


def test_crop_of_bottom_right_corner():
    img = np.full((40, 60, 3), 9, np.uint8)
    crop = square_crop(img, Box(60, 40, 10, 10), 0.0, 10)  # square spans 55..65 x 35..45
    assert (crop[:5, :5] == 9).all()
    assert (crop[5:, :] == FILL_VALUE).all() and (crop[:, 5:] == FILL_VALUE).all()


def test_grey_image_crop_has_one_channel():
    img = np.zeros((30, 30), np.uint8)
    crop = square_crop(img, Box(0, 0, 10, 10), 0.0, 10)
    assert crop.shape == (10, 10, 1)
    assert (crop[:5, :5, 0] == FILL_VALUE).all() and (crop[5:, 5:, 0] == 0).all()


def test_crop_size_minimum():
    with pytest.raises(ValueError, match='at least 8'):
        square_crop(np.zeros((20, 20, 3), np.uint8), Box(10, 10, 5, 5), 0.1, 7)


# ---- stack / unstack ----------------------------------------------------------------------------


def test_stack_unstack_roundtrip():
    rng = np.random.default_rng(1)
    crops = [rng.integers(0, 256, (16, 16, 3), dtype=np.uint8) for _ in range(3)]
    stacked = stack_crops(crops)
    assert stacked.shape == (48, 16, 3) and stacked.flags['C_CONTIGUOUS']
    back = unstack_crops(stacked, 3)
    assert len(back) == 3
    for a, b in zip(crops, back):
        np.testing.assert_array_equal(a, b)


def test_single_crop_roundtrip():
    crop = np.arange(64, dtype=np.uint8).reshape(8, 8)
    np.testing.assert_array_equal(unstack_crops(stack_crops([crop]), 1)[0], crop)


@pytest.mark.parametrize('count', [2, 4, 0, -1])
def test_unstack_count_mismatch(count):
    stacked = stack_crops([np.zeros((16, 16, 3), np.uint8)] * 3)
    with pytest.raises(ValueError):
        unstack_crops(stacked, count)


def test_unstack_of_empty_width():
    with pytest.raises(ValueError):
        unstack_crops(np.zeros((0, 0, 3), np.uint8), 1)


def test_stack_refuses_empty_and_mixed_sizes():
    with pytest.raises(ValueError, match='no crops'):
        stack_crops([])
    with pytest.raises(ValueError, match='one size'):
        stack_crops([np.zeros((16, 16, 3), np.uint8), np.zeros((8, 8, 3), np.uint8)])
    with pytest.raises(ValueError, match='square'):
        stack_crops([np.zeros((16, 20, 3), np.uint8)])


def test_match_boxes_pairs_each_true_box_with_at_most_one_found_box():
    from glass_perception.core.geometry import match_boxes

    truth = [Box(50, 50, 20, 40), Box(58, 50, 20, 40), Box(200, 100, 30, 30)]
    found = [Box(56, 51, 20, 40), Box(120, 100, 30, 30)]
    # the one detection overlaps both nearby truths: it goes to the closer one, the other has none
    assert match_boxes(truth, found, 0.5) == [None, 0, None]
    assert match_boxes(truth, [], 0.5) == [None, None, None]
    assert match_boxes(truth, found, 0.99) == [None, None, None]
