"""
glass_perception.workflow.fuzz: glass-fuzz's seeded cases, checked against the codec and rules.

If a case's label (valid / malformed / unpaired) disagreed with what the node's own rules make of
it, the DDS fuzzing would report the node wrongly; these tests keep the generator honest.
"""

from __future__ import annotations

import math

import cv2
from glass_perception.core.camera_model import Intrinsics
from glass_perception.core.geometry import unstack_crops
from glass_perception.core.image_codec import (
    DEPTH_ENCODINGS,
    ENCODINGS,
    image_to_bgr,
    image_to_depth,
    ImageError,
)
from glass_perception.core.localizer import localize_frame, Localizer
from glass_perception.core.messages import (
    box_of,
    detection3d,
    glass_markers,
    ranked_hypotheses,
    stamp_key,
    stamp_seconds,
)
from glass_perception.core.paths import DEFAULT_CLASSIFIER
from glass_perception.core.sizes import SizeModel, sizes_path
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
    for k in (
        'valid_16UC1',
        'valid_32FC1',
        'valid_16UC1_be',
        'valid_32FC1_padded',
        'all_nan_32FC1',
        'valid_empty',
        'camera_info_zero_k',
        'camera_info_nan_k',
        'depth_unsupported_encoding',
        'depth_data_truncated',
        'depth_step_too_small',
        'depth_size_differs',
        'depth_huge_size_tiny_data',
        'nan_box',
        'zero_size_box',
        'box_far_outside',
        'no_hypotheses',
        'nan_score',
        'too_many_detections',
        'depth_stamp_mismatch',
        'classifications_only',
    ):
        assert k in kinds['localizer'], k


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


# the first cases of seed 1, as they were before the localizer joined: new targets must not
# change the generators (seeded by the target's index in TARGETS) of those before them
FIRST_KINDS = {
    'detector': [
        'data_truncated',
        'uyvy_padded',
        'odd_step_16bit',
        'huge_size_tiny_data',
        'odd_width_422',
        'huge_size_tiny_data',
        'yuv422_yuy2',
        'unknown_encoding',
    ],
    'classifier': [
        'count_mismatch',
        'too_many_detections',
        'crops_unknown_encoding',
        'valid_pair_rgb8',
        'valid_many',
        'nan_box',
        'crops_only',
        'crops_huge_step',
    ],
    'overlay': [
        'bad_box_in_fragile_only',
        'fragile_missing',
        'image_odd_width_422',
        'image_data_truncated',
        'valid_16UC1_be',
        'inf_box',
        'fragile_stamp_mismatch',
        'valid_bgr8',
    ],
}


def test_a_new_target_leaves_the_cases_of_the_others_as_they_were():
    assert fuzz.TARGETS[:3] == ('detector', 'classifier', 'overlay')
    for target, kinds in FIRST_KINDS.items():
        assert [c.kind for c in fuzz.cases(1, len(kinds), target)] == kinds, target
        assert not any(c.also_rejected for c in fuzz.cases(1, 50, target))


# ------------------------------------------------------------------------------------------------
# localizer


def _localizer_verdict(c, camera: Intrinsics) -> tuple[str, Intrinsics]:
    """
    Tell what localizer_node's rules make of a case, after ``camera`` (its calibration).

    Return the verdict and the calibration in use after the case.
    """
    msgs = dict(c.messages)
    info, depth, classes = (msgs.get(t) for t in (fuzz.CAMERA_INFO, fuzz.DEPTH, fuzz.CLASSES))
    if info is not None and fuzz.good_camera_info(info):
        camera = Intrinsics.from_camera_info(info)
    if classes is None:
        return fuzz.UNPAIRED, camera
    if len(classes.detections) > fuzz.MAX_GLASSES:
        return fuzz.MALFORMED, camera
    if depth is None or not (
        abs(stamp_seconds(depth.header) - stamp_seconds(classes.header)) <= fuzz.MAX_DEPTH_SKEW
    ):
        return fuzz.UNPAIRED, camera
    w, h = camera.width, camera.height
    try:
        if image_to_depth(depth).shape != (h, w):
            raise ImageError('size differs from camera_info')
        for d in classes.detections:
            x0, y0, x1, y1 = box_of(d).xyxy()
            if not ranked_hypotheses(d) or not (
                x0 >= -w and y0 >= -h and x1 <= 2 * w and y1 <= 2 * h
            ):
                raise ValueError('no hypotheses, or a box far outside')
    except (ImageError, ValueError):
        return fuzz.MALFORMED, camera
    return fuzz.VALID, camera


def test_localizer_cases_agree_with_the_node_rules():
    (_, probe_info), *_ = fuzz.probe('localizer', 0, (1, 0)).messages
    camera = Intrinsics.from_camera_info(probe_info)  # what the warm-up leaves
    seen = set()
    for c in fuzz.cases(5, 400, 'localizer'):
        verdict, camera = _localizer_verdict(c, camera)
        assert verdict == c.expect, c.describe()
        seen.add(c.expect)
        bad_info = c.kind.startswith('camera_info_') and c.kind != 'camera_info_not_sent'
        assert c.also_rejected == bad_info, c.describe()  # rejected, the frame still answered
        assert [t for t, _ in c.messages] == [
            t for t in (fuzz.CAMERA_INFO, fuzz.DEPTH, fuzz.CLASSES) if t in dict(c.messages)
        ], c.describe()  # depth and camera_info before the classifications they pair with
        if c.expect == fuzz.VALID:
            assert camera.width == fuzz.RGBD_W and camera.height == fuzz.RGBD_H
        assert all(
            stamp_key(m.header) == c.stamp for t, m in c.messages if t != fuzz.DEPTH
        ), c.describe()
    assert seen == {fuzz.VALID, fuzz.MALFORMED, fuzz.UNPAIRED}


def test_malformed_depth_fails_the_codec_or_the_size_check():
    depth, camera, _, _ = fuzz.rgbd_scene(2)
    rng = np.random.default_rng(4)
    kinds = set()
    for _ in range(300):
        kind, msg = fuzz.malformed_depth(rng, (3, 0), depth)
        kinds.add(kind)
        try:
            out = image_to_depth(msg)
        except ImageError:
            continue
        assert kind == 'size_differs' and out.shape != (camera.height, camera.width), kind
        if kind == 'huge_size_tiny_data':
            assert len(msg.data) < 64
    assert len(kinds) == 10 and 'unsupported_encoding' in kinds
    assert not set(fuzz.NOT_DEPTH_BPP) & set(DEPTH_ENCODINGS)


@pytest.mark.parametrize('encoding', sorted(DEPTH_ENCODINGS))
@pytest.mark.parametrize('big_endian', [False, True])
@pytest.mark.parametrize('pad', [0, 8])
def test_valid_depth_decodes_to_the_scene(encoding, big_endian, pad):
    """16UC1 millimetres and 32FC1 metres, either byte order, padded rows: the scene's depth."""
    depth, camera, boxes, _ = fuzz.rgbd_scene(1)
    assert depth.shape == (120, 160) and (camera.width, camera.height) == (160, 120)
    assert camera.fx == pytest.approx(606 / 4) and camera.cx == pytest.approx(79.5)
    assert boxes and all(0 < b[0] < 160 and 0 < b[1] < 120 for b in boxes)
    assert 0.3 < np.nanmedian(depth) < 3.0 and np.isnan(depth).mean() < 0.5
    arr = fuzz.depth_pixels(depth, encoding)
    msg = fuzz.raw_image((1, 2), arr, encoding, big_endian, pad)
    assert msg.step == 160 * arr.dtype.itemsize + pad and msg.is_bigendian == big_endian
    out = image_to_depth(msg)
    assert np.array_equal(np.isnan(out), np.isnan(depth))
    tol = 0.0006 if encoding == '16UC1' else 0.0  # millimetres
    assert np.nanmax(np.abs(out - depth)) <= tol


def test_valid_localizer_cases_decode_and_localise():
    """What the node does with a valid case: no exception (odd boxes, distortion, odd depth)."""
    sizes = SizeModel.load(sizes_path(DEFAULT_CLASSIFIER))
    localizer = Localizer()
    (_, probe_info), *_ = fuzz.probe('localizer', 0, (1, 0)).messages
    camera = Intrinsics.from_camera_info(probe_info)
    kinds = set()
    for c in fuzz.cases(6, 300, 'localizer'):
        verdict, camera = _localizer_verdict(c, camera)
        if verdict != fuzz.VALID:
            continue
        kinds.add(c.kind)
        msgs = dict(c.messages)
        depth = image_to_depth(msgs[fuzz.DEPTH])
        if c.kind == 'all_nan_32FC1':
            assert np.isnan(depth).all()
        dets = [(d.id, box_of(d), ranked_hypotheses(d)) for d in msgs[fuzz.CLASSES].detections]
        glasses = localize_frame(localizer, dets, depth, camera, sizes)
        out = [detection3d(msgs[fuzz.CLASSES].header, g) for g in glasses]  # as the node does
        glass_markers(msgs[fuzz.CLASSES].header, glasses, 1.0)
        assert [d.id for d in out] == [d[0] for d in dets]
    assert {'camera_distorted', 'odd_boxes', 'all_nan_32FC1', 'max_glasses'} <= kinds


def test_the_localizer_probe_is_a_plain_rgbd_frame():
    c = fuzz.probe('localizer', 3, (7, 500_000_000))
    assert [t for t, _ in c.messages] == [fuzz.CAMERA_INFO, fuzz.DEPTH, fuzz.CLASSES]
    assert _localizer_verdict(c, None)[0] == fuzz.VALID
    assert repr(c.messages) == repr(fuzz.probe('localizer', 3, (7, 500_000_000)).messages)


def _fields(msg) -> tuple:
    """Return what a message carries, comparable (NaN-safe) and quick to build."""
    if hasattr(msg, 'markers'):  # the Foxglove bridge's marker arrays
        return (len(msg.markers), repr(msg.markers))
    if hasattr(msg, 'k'):
        return (repr(msg.header), msg.width, msg.height, msg.distortion_model, repr(msg.k))
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
