"""
glass_perception.workflow.fuzz: glass-fuzz's seeded cases, checked against the codec and rules.

If a case's label (valid / malformed / unpaired) disagreed with what the node's own rules make of
it, the DDS fuzzing would report the node wrongly; these tests keep the generator honest.
"""

from __future__ import annotations

import math

import cv2
from glass_perception.core.geometry import unstack_crops
from glass_perception.core.image_codec import ENCODINGS, image_to_bgr, ImageError
from glass_perception.core.messages import box_of, stamp_key
from glass_perception.workflow import fuzz
import numpy as np
import pytest


def test_a_case_is_rebuilt_from_seed_target_and_index():
    for target in fuzz.TARGETS:
        for i in (0, 7, 123):
            a, b = fuzz.case(42, target, i), fuzz.case(42, target, i)
            assert (a.kind, a.expect, a.stamp) == (b.kind, b.expect, b.stamp)
            assert repr(a.messages) == repr(b.messages)  # repr: NaN boxes compare unequal
        streamed = list(fuzz.cases(42, 5, target, start=120))
        assert [c.index for c in streamed] == [120, 121, 122, 123, 124]
        assert repr(streamed[3].messages) == repr(fuzz.case(42, target, 123).messages)
    assert fuzz.case(1, 'detector', 3).stamp != fuzz.case(1, 'detector', 4).stamp


def test_every_kind_of_the_brief_is_generated():
    kinds = {t: {c.kind for c in fuzz.cases(3, 400, t)} for t in fuzz.TARGETS}
    for k in (
        'step_too_small',
        'data_truncated',
        'data_oversized',
        'zero_size',
        'huge_size_tiny_data',
        'unknown_encoding',
        'mono16_be',
        '16UC1',
        'rgba8',
        'bgra8',
        'mono8',
        'odd_size',
    ):
        assert any(x.startswith(k) for x in kinds['detector']), k
    assert any(x.endswith('_padded') for x in kinds['detector'])
    for k in (
        'count_mismatch',
        'stamp_mismatch',
        'valid_empty',
        'nan_box',
        'inf_box',
        'negative_size_box',
        'crops_height_not_multiple',
        'too_many_detections',
    ):
        assert k in kinds['classifier'], k
    for k in (
        'nan_box',
        'no_hypotheses',
        'fragile_ids_do_not_match',
        'box_far_outside',
        'fragile_missing',
    ):
        assert k in kinds['overlay'], k


def _decodes(msg) -> bool:
    try:
        out = image_to_bgr(msg)
    except ImageError:
        return False
    assert out.shape == (msg.height, msg.width, 3) and out.dtype == np.uint8
    return True


def test_image_cases_agree_with_the_codec():
    for c in fuzz.cases(5, 300, 'detector'):
        ((_, msg),) = c.messages
        assert _decodes(msg) == (c.expect == fuzz.VALID), c.describe()
        if c.kind == 'huge_size_tiny_data':
            assert len(msg.data) < 64  # nothing of the claimed size is ever sent or allocated
    for c in fuzz.cases(5, 300, 'overlay'):
        images = [m for topic, m in c.messages if topic == fuzz.CAMERA]
        if images:
            assert _decodes(images[0]) == (not c.kind.startswith('image_')), c.describe()


def _classifier_verdict(c) -> str:
    """Tell what classifier_node's rules make of a case: valid, malformed or unpaired."""
    halves = dict(c.messages)
    cands, crops = halves.get(fuzz.CANDIDATES), halves.get(fuzz.CROPS)
    if cands is not None and not cands.detections:
        return fuzz.VALID  # answered at once with an empty message
    if cands is None or crops is None or stamp_key(cands.header) != stamp_key(crops.header):
        return fuzz.UNPAIRED
    if len(cands.detections) > fuzz.MAX_CANDIDATES:
        return fuzz.MALFORMED
    try:
        [box_of(d) for d in cands.detections]
        unstack_crops(image_to_bgr(crops), len(cands.detections))
    except (ImageError, ValueError):
        return fuzz.MALFORMED
    return fuzz.VALID


def test_classifier_cases_agree_with_the_node_rules():
    for c in fuzz.cases(5, 250, 'classifier'):
        assert _classifier_verdict(c) == c.expect, c.describe()


def test_overlay_cases_agree_with_the_node_rules():
    for c in fuzz.cases(5, 300, 'overlay'):
        msgs = {}
        for topic, m in c.messages:
            msgs[topic] = m
        classes, fragile = msgs.get(fuzz.CLASSES), msgs.get(fuzz.FRAGILE)
        if fragile is None or stamp_key(fragile.header) != stamp_key(classes.header):
            assert c.expect == fuzz.UNPAIRED, c.describe()
            continue
        try:
            image_to_bgr(msgs[fuzz.CAMERA])
            [box_of(d) for d in classes.detections]
            verdict = fuzz.VALID
        except (ImageError, ValueError):
            verdict = fuzz.MALFORMED
        assert verdict == c.expect, c.describe()


@pytest.mark.parametrize('encoding', fuzz.IMAGE_ENCODINGS)
@pytest.mark.parametrize('big_endian', [False, True])
@pytest.mark.parametrize('pad', [0, 6])
def test_valid_images_decode_to_the_picture(encoding, big_endian, pad):
    """Every encoding the nodes take, either byte order, padded rows, decodes to the picture."""
    bgr = fuzz.scene(3)
    msg = fuzz.raw_image((1, 2), fuzz.pixels(bgr, encoding), encoding, big_endian, pad)
    assert (
        msg.step
        == bgr.shape[1]
        * np.dtype(ENCODINGS[encoding].dtype).itemsize
        * ENCODINGS[encoding].channels
        + pad
    )
    out = image_to_bgr(msg)
    gray = cv2.cvtColor(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    if ENCODINGS[encoding].channels >= 3:
        assert np.array_equal(out, bgr)
    elif ENCODINGS[encoding].channels == 1:  # mono8, and mono16 / 16UC1 in either byte order
        assert np.array_equal(out, gray)
    else:  # 4:2:2 halves the colour resolution
        assert np.abs(out.astype(int) - bgr.astype(int)).mean() < 8


def test_big_endian_mono16_is_read_as_big_endian():
    values = np.array([[0x0102, 0xA0B0]], np.uint16)
    be = fuzz.raw_image((0, 0), values, 'mono16', big_endian=True)
    assert bytes(be.data) == bytes([0x01, 0x02, 0xA0, 0xB0]) and be.is_bigendian == 1
    assert image_to_bgr(be)[0, :, 0].tolist() == [0x01, 0xA0]  # high bytes, not 0x02 / 0xB0


def test_bad_boxes_are_bad():
    rng = np.random.default_rng(0)
    for kind in fuzz.BAD_BOX_VALUES:
        for _ in range(20):
            cx, cy, w, h = fuzz.bad_box(rng, kind)
            assert not (all(math.isfinite(v) for v in (cx, cy, w, h)) and w > 0 and h > 0), kind


def _fields(msg) -> tuple:
    """Return what a message carries, comparable (NaN-safe) and quick to build."""
    if hasattr(msg, 'data'):
        return (
            repr(msg.header),
            msg.height,
            msg.width,
            msg.encoding,
            msg.is_bigendian,
            msg.step,
            bytes(msg.data),
        )
    return (repr(msg.header), len(msg.detections), repr(msg.detections[:20]))


def test_cases_survive_serialization():
    """What the harness publishes is what the node receives (a NUL in a string would not be)."""
    from rclpy.serialization import deserialize_message, serialize_message

    for target in fuzz.TARGETS:
        for c in fuzz.cases(9, 120, target):
            for _, msg in c.messages:
                back = deserialize_message(serialize_message(msg), type(msg))
                assert _fields(back) == _fields(msg), c.describe()
    for enc in fuzz.UNKNOWN_ENCODINGS:
        assert enc not in ENCODINGS
