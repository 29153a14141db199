"""The camera's rgbd:DIR source: the layout, checked at start-up; frames in stem order, looping."""

from pathlib import Path
import re

import cv2
from glass_perception.core.sources import EndOfSource, open_source, SourceError
import numpy as np
import pytest

INFO = """image_width: 64
image_height: 48
camera_name: test
camera_matrix: {rows: 3, cols: 3, data: [60, 0, 31.5, 0, 60, 23.5, 0, 0, 1]}
distortion_model: plumb_bob
distortion_coefficients: {rows: 1, cols: 5, data: [0, 0, 0, 0, 0]}
rectification_matrix: {rows: 3, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 0, 1]}
projection_matrix: {rows: 3, cols: 4, data: [60, 0, 31.5, 0, 0, 60, 23.5, 0, 0, 0, 1, 0]}
"""


def write_folder(root: Path, stems=('0002', '0001', '0003'), size=(64, 48)) -> Path:
    (root / 'color').mkdir(parents=True)
    (root / 'depth').mkdir()
    (root / 'camera_info.yaml').write_text(INFO)
    (root / 'notes.txt').write_text('ignored')
    (root / 'extra').mkdir()
    for i, stem in enumerate(stems):
        colour = np.full((size[1], size[0], 3), 40 * (i + 1), np.uint8)
        depth = np.full((size[1], size[0]), 500 + int(stem), np.uint16)
        cv2.imwrite(str(root / 'color' / f'{stem}.png'), colour)
        cv2.imwrite(str(root / 'depth' / f'{stem}.png'), depth)
    return root


def test_frames_come_in_stem_order_with_depth_and_calibration(tmp_path):
    src = open_source(f'rgbd:{write_folder(tmp_path)}', 64, 48, loop=False)
    seen = []
    for _ in range(3):
        f = src.read()
        assert f.depth.dtype == np.uint16 and f.depth.shape == (48, 64)
        assert f.camera.fx == 60 and f.camera.cx == 31.5
        assert f.truth is None
        seen.append(int(f.depth[0, 0]) - 500)
    assert seen == [1, 2, 3]
    with pytest.raises(EndOfSource):
        src.read()


def test_another_published_size_resizes_depth_nearest_and_scales_k(tmp_path):
    src = open_source(f'rgbd:{write_folder(tmp_path)}', 128, 96)
    f = src.read()
    assert f.image.shape == (96, 128, 3) and f.depth.shape == (96, 128)
    assert set(np.unique(f.depth)) == {501}  # never an interpolated depth
    assert f.camera.fx == 120 and f.camera.cx == pytest.approx(63.5)


@pytest.mark.parametrize(
    'breakage, message',
    [
        (lambda r: (r / 'camera_info.yaml').unlink(), 'no camera_info.yaml'),
        (lambda r: (r / 'camera_info.yaml').write_text('image_width: 64\n'), 'camera_info.yaml:'),
        (lambda r: (r / 'depth' / '0001.png').unlink(), 'without depth/<stem>.png, first 0001'),
        (
            lambda r: cv2.imwrite(str(r / 'depth' / '0009.png'), np.zeros((48, 64), np.uint16)),
            'depth frame(s) without a colour frame, first 0009',
        ),
        (
            lambda r: cv2.imwrite(str(r / 'depth' / '0001.png'), np.zeros((48, 64), np.uint8)),
            'not a 16-bit single-channel PNG',
        ),
        (
            lambda r: cv2.imwrite(str(r / 'depth' / '0001.png'), np.zeros((40, 64), np.uint16)),
            'camera_info.yaml says 64x48',
        ),
        (lambda r: [p.unlink() for p in (r / 'color').iterdir()], 'no .png or .jpg frames'),
    ],
)
def test_a_folder_that_breaks_the_layout_says_what_is_wrong(tmp_path, breakage, message):
    root = write_folder(tmp_path)
    breakage(root)
    with pytest.raises(SourceError, match=re.escape(message)) as info:
        open_source(f'rgbd:{root}', 64, 48)
    assert '\n' not in str(info.value)


def test_the_shipped_synthetic_source_has_depth_calibration_and_3d_truth():
    f = open_source('synthetic', 640, 480).read()
    assert f.depth is not None and f.camera is not None and f.truth
    assert {'base', 'centre', 'height', 'diameter'} <= set(f.truth_3d[0])
