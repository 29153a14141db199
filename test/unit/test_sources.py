"""glass_perception.core.synthetic.render_scene and the camera node's frame sources."""

from __future__ import annotations

import cv2
from glass_perception.core.sources import BadFrame, EndOfSource, Frame, open_source, SourceError
from glass_perception.core.synthetic import CLASSES, DETECTOR_NAME, render_scene
import numpy as np
import pytest

W, H = 160, 120
KINDS = set(CLASSES) | {'bottle', 'bowl'}


# ---- synthetic scenes ---------------------------------------------------------------------------


def test_scene_is_a_pure_function_of_seed_and_index():
    a, b = render_scene(3, 5, W, H), render_scene(3, 5, W, H)
    np.testing.assert_array_equal(a.image, b.image)
    assert a.objects == b.objects


def test_scenes_differ_across_seeds_and_indices():
    base = render_scene(3, 5, W, H).image
    assert not np.array_equal(base, render_scene(4, 5, W, H).image)
    assert not np.array_equal(base, render_scene(3, 6, W, H).image)


@pytest.mark.parametrize('seed', [0, 7])
def test_scene_content(seed):
    seen = set()
    for index in range(6):
        scene = render_scene(seed, index, W, H)
        assert scene.image.shape == (H, W, 3) and scene.image.dtype == np.uint8
        for obj in scene.objects:
            assert obj.kind in KINDS and obj.detector_name == DETECTOR_NAME[obj.kind]
            x0, y0, x1, y1 = obj.box.xyxy()
            assert 0 <= x0 < x1 <= W and 0 <= y0 < y1 <= H
            assert obj.box.w >= 12 and obj.box.h >= 12
            seen.add(obj.kind)
        for obj in scene.glassware():
            assert obj.kind in CLASSES and obj.is_glassware
        assert all(not o.is_glassware for o in scene.objects if o.kind in ('bottle', 'bowl'))
    assert seen  # six scenes hold at least one object


def test_kinds_restrict_what_is_drawn():
    for index in range(4):
        assert {o.kind for o in render_scene(1, index, W, H, kinds=('soju_glass',)).objects} <= {
            'soju_glass'
        }


def test_scene_too_small():
    with pytest.raises(ValueError):
        render_scene(0, 0, 63, 100)


# ---- synthetic source ---------------------------------------------------------------------------


def test_synthetic_fast_source_frames_have_truth():
    src = open_source('synthetic:fast', W, H, seed=11)
    assert src.kind == 'synthetic'
    for index in range(2):
        frame = src.read()
        assert isinstance(frame, Frame) and frame.truth is not None
        expected = render_scene(11, index, W, H)
        np.testing.assert_array_equal(frame.image, expected.image)
        assert frame.truth == expected.objects
    src.close()


def test_scene_set_plays_rendered_scenes_with_truth_scaled_to_the_output(tmp_path):
    import json

    from glass_perception.workflow.datasets import export_detection

    export_detection(tmp_path / 'det', seed=612, count=3, split='val', width=320, height=240)
    truth = json.loads((tmp_path / 'det' / 'truth_val.json').read_text())
    src = open_source(f'synthetic:{tmp_path / "det" / "images" / "val"}', 640, 480, loop=False)
    assert src.kind == 'scenes'
    for stem in sorted(truth):
        frame = src.read()
        assert frame.image.shape == (480, 640, 3)
        assert [o.kind for o in frame.truth] == [o['kind'] for o in truth[stem]]
        for o, t in zip(frame.truth, truth[stem]):
            assert o.box.cx == pytest.approx(2 * t['box'][0]) and o.box.h == pytest.approx(
                2 * t['box'][3]
            )
    with pytest.raises(EndOfSource):
        src.read()
    with pytest.raises(SourceError, match='truth.json'):
        open_source(f'synthetic:{tmp_path}', 640, 480)


def test_the_shipped_scene_set_is_the_default_synthetic_source():
    src = open_source('synthetic', 640, 480)
    assert src.kind == 'rgbd' and len(src.frames) >= 20
    frame = src.read()
    assert frame.image.shape == (480, 640, 3) and frame.truth
    assert frame.depth.shape == (480, 640) and frame.camera.fx > 0
    kinds = {o['kind'] for scene in src.truth.values() for o in scene['objects']}
    assert set(CLASSES) <= kinds


# ---- image folders ------------------------------------------------------------------------------

COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]  # BGR


@pytest.fixture
def folder(tmp_path):
    for i, colour in enumerate(COLOURS):
        cv2.imwrite(str(tmp_path / f'frame_{i}.png'), np.full((24, 32, 3), colour, np.uint8))
    (tmp_path / 'notes.txt').write_text('not an image')
    return tmp_path


def colour_of(frame: Frame):
    return tuple(int(v) for v in frame.image[0, 0])


def test_folder_loops_in_name_order(folder):
    src = open_source(str(folder), 32, 24, loop=True)
    assert src.kind == 'images'
    frames = [src.read() for _ in range(5)]
    assert [colour_of(f) for f in frames] == COLOURS + COLOURS[:2]
    assert all(f.truth is None and f.image.shape == (24, 32, 3) for f in frames)


def test_folder_without_loop_ends(folder):
    src = open_source(str(folder), 32, 24, loop=False)
    assert [colour_of(src.read()) for _ in range(3)] == COLOURS
    with pytest.raises(EndOfSource):
        src.read()


def test_glob_and_single_file(folder):
    src = open_source(str(folder / 'frame_[12].png'), 32, 24, loop=False)
    assert [colour_of(src.read()) for _ in range(2)] == COLOURS[1:]
    with pytest.raises(EndOfSource):
        src.read()
    single = open_source(str(folder / 'frame_0.png'), 32, 24, loop=True)
    assert [colour_of(single.read()) for _ in range(2)] == [COLOURS[0]] * 2


def test_frames_are_resized_and_made_bgr(tmp_path):
    cv2.imwrite(str(tmp_path / 'a_gray16.png'), np.full((10, 20), 0x8000, np.uint16))
    cv2.imwrite(str(tmp_path / 'b_bgra.png'), np.full((10, 20, 4), (1, 2, 3, 4), np.uint8))
    src = open_source(str(tmp_path), 64, 48, loop=False)
    gray, bgra = src.read(), src.read()
    assert gray.image.shape == bgra.image.shape == (48, 64, 3)
    assert gray.image.dtype == np.uint8 and (gray.image == 128).all()
    assert (bgra.image == (1, 2, 3)).all()


def test_corrupt_image_is_skipped_and_a_vanished_one_is_a_source_error(tmp_path):
    (tmp_path / 'a_broken.png').write_bytes(b'definitely not a png')
    cv2.imwrite(str(tmp_path / 'b_good.png'), np.zeros((24, 32, 3), np.uint8))
    cv2.imwrite(str(tmp_path / 'c_good.png'), np.zeros((24, 32, 3), np.uint8))
    src = open_source(str(tmp_path), 32, 24)
    with pytest.raises(BadFrame, match='a_broken.png'):
        src.read()
    assert src.read().image.shape == (24, 32, 3)  # the next frame comes
    (tmp_path / 'c_good.png').unlink()  # the folder's contents vanish under us
    with pytest.raises(SourceError, match='c_good.png'):
        src.read()
    only_bad = tmp_path / 'bad'
    only_bad.mkdir()
    (only_bad / 'x.png').write_bytes(b'nope')
    src = open_source(str(only_bad), 32, 24)
    with pytest.raises(SourceError, match='no readable images'):
        src.read()


def test_empty_folder_and_missing_paths(tmp_path):
    with pytest.raises(SourceError, match='no images'):
        open_source(str(tmp_path), 32, 24)
    with pytest.raises(SourceError, match='no images'):
        open_source(str(tmp_path / '*.png'), 32, 24)
    with pytest.raises(SourceError):
        open_source(str(tmp_path / 'does_not_exist'), 32, 24)
    with pytest.raises(SourceError, match='does not exist'):
        open_source('/dev/video987', 32, 24)


# ---- video files --------------------------------------------------------------------------------


@pytest.fixture
def video(tmp_path):
    path = tmp_path / 'clip.avi'
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 5, (64, 48))
    if not writer.isOpened():
        pytest.skip('this OpenCV cannot write MJPG video')
    for level in (0, 100, 200):
        writer.write(np.full((48, 64, 3), level, np.uint8))
    writer.release()
    return path


def test_video_file_frames(video):
    src = open_source(str(video), 64, 48, loop=False)
    assert src.kind == 'video'
    levels = [float(src.read().image.mean()) for _ in range(3)]
    assert levels == pytest.approx([0, 100, 200], abs=6)  # MJPEG is lossy
    with pytest.raises(EndOfSource):
        src.read()
    src.close()


def test_video_file_loops_and_resizes(video):
    src = open_source(str(video), 32, 24, loop=True)
    frames = [src.read() for _ in range(4)]
    assert all(f.image.shape == (24, 32, 3) and f.truth is None for f in frames)
    assert frames[3].image.mean() == pytest.approx(frames[0].image.mean(), abs=6)
    src.close()


def test_unreadable_video_is_a_source_error(tmp_path):
    path = tmp_path / 'broken.avi'
    path.write_bytes(b'\x00' * 64)
    with pytest.raises(SourceError):
        open_source(str(path), 32, 24)
