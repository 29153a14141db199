"""Real images: depth readers, the rgbd import, COCO replay labels, and the real-frame scoring."""

import json
from pathlib import Path

import cv2
from glass_perception.core.detector import Detection
from glass_perception.core.geometry import Box
from glass_perception.core.sources import open_source
from glass_perception.workflow import real
import numpy as np
import pytest

REAL = Path(__file__).resolve().parents[3] / 'shared' / 'real'
needs_real = pytest.mark.skipif(
    not (REAL / 'cleargrasp_glasses').is_dir(), reason=f'{REAL} is not here (shared/real)'
)


def test_depth_readers_give_metres_whatever_the_file(tmp_path):
    d = np.array([[0.5, 0.0], [1.25, np.nan]], np.float32)
    np.save(tmp_path / 'm.npy', d)
    np.save(tmp_path / 'mm.npy', np.array([[500, 0], [1250, 0]], np.uint16))
    cv2.imwrite(str(tmp_path / 'mm.png'), np.array([[500, 0], [1250, 0]], np.uint16))
    fs = cv2.FileStorage(str(tmp_path / 'd.xml'), cv2.FILE_STORAGE_WRITE)
    fs.write('depth_image', d)
    fs.release()
    want = np.array([[0.5, 0.0], [1.25, 0.0]], np.float32)
    for name in ('m.npy', 'mm.npy', 'mm.png', 'd.xml'):
        np.testing.assert_allclose(real.read_depth_m(tmp_path / name), want, err_msg=name)
    np.testing.assert_allclose(real.read_depth_m(tmp_path / 'mm.png', 'm'), want * 1000)
    with pytest.raises(ValueError, match='8-bit.png: not a 16-bit'):
        cv2.imwrite(str(tmp_path / '8-bit.png'), np.zeros((2, 2), np.uint8))
        real.read_depth_m(tmp_path / '8-bit.png')
    with pytest.raises(ValueError, match='must be .exr'):
        real.read_depth_m(tmp_path / 'd.tiff')


def test_an_import_plays_as_an_rgbd_source(tmp_path):
    colour = np.full((48, 64, 3), 90, np.uint8)
    cv2.imwrite(str(tmp_path / 'c.jpg'), colour)
    depth = np.full((48, 64), 0.8, np.float32)
    depth[0, 0] = 65.5  # a RealSense EXR's "no return"
    np.save(tmp_path / 'd.npy', depth)
    n = real.import_rgbd([(tmp_path / 'c.jpg', tmp_path / 'd.npy')], (60, 61, 31.5, 23.5),
                         tmp_path / 'out')
    assert n == 1
    src = open_source(f'rgbd:{tmp_path / "out"}', 64, 48, loop=False)
    assert src.camera.fx == 60 and src.camera.cy == 23.5
    mm = cv2.imread(str(tmp_path / 'out' / 'depth' / '000000.png'), cv2.IMREAD_UNCHANGED)
    assert mm.dtype == np.uint16 and mm[1, 1] == 800 and mm[0, 0] == 0
    np.save(tmp_path / 'small.npy', depth[:10])
    with pytest.raises(ValueError, match='register depth to colour'):
        real.import_rgbd([(tmp_path / 'c.jpg', tmp_path / 'small.npy')], (1, 1, 1, 1),
                         tmp_path / 'bad')


def test_intrinsics_from_the_three_kinds_of_calibration_file(tmp_path):
    (tmp_path / 'flat.txt').write_text('Image Height: 720\nfx: 912.5\nfy: 911\ncx: 641.5\ncy: 371')
    from glass_perception.workflow.rgbd import camera_info_yaml

    (tmp_path / 'ros.yaml').write_text(camera_info_yaml('x', (500, 501, 320, 240), (640, 480)))
    fs = cv2.FileStorage(str(tmp_path / 'cv.yml'), cv2.FILE_STORAGE_WRITE)
    fs.write('K', np.array([[525.0, 0, 320.5], [0, 526.0, 240.5], [0, 0, 1]]))
    fs.release()
    assert real.read_intrinsics(tmp_path / 'flat.txt') == (912.5, 911, 641.5, 371)
    assert real.read_intrinsics(tmp_path / 'ros.yaml') == (500, 501, 320, 240)
    assert real.read_intrinsics(tmp_path / 'cv.yml') == (525, 526, 320.5, 240.5)
    (tmp_path / 'none.txt').write_text('nothing here\n')
    with pytest.raises(ValueError, match='none.txt: no camera matrix'):
        real.read_intrinsics(tmp_path / 'none.txt')


def _yolo_folder(root: Path):
    (root / 'images' / 'a').mkdir(parents=True)
    (root / 'labels' / 'a').mkdir(parents=True)
    cv2.imwrite(str(root / 'images' / 'a' / 'p.jpg'), np.zeros((100, 200, 3), np.uint8))
    cv2.imwrite(str(root / 'images' / 'a' / 'q.jpg'), np.zeros((100, 200, 3), np.uint8))
    # a cup (41), a person (0), a wine glass (40); q has no label file
    (root / 'labels' / 'a' / 'p.txt').write_text(
        '41 0.25 0.5 0.1 0.4\n0 0.5 0.5 0.2 0.2\n40 0.75 0.5 0.1 0.4\n'
    )


def test_coco_replay_keeps_the_detector_classes_and_the_photographs(tmp_path):
    _yolo_folder(tmp_path / 'coco')
    boxes = real.coco_replay(tmp_path / 'coco', tmp_path / 'out', 'replay')
    assert boxes == 2
    lines = (tmp_path / 'out' / 'labels' / 'replay' / 'p.txt').read_text().split('\n')
    assert lines[:2] == ['0 0.25 0.5 0.1 0.4', '1 0.75 0.5 0.1 0.4']  # cup, wine glass
    assert (tmp_path / 'out' / 'labels' / 'replay' / 'q.txt').read_text() == ''
    assert (tmp_path / 'out' / 'images' / 'replay' / 'q.jpg').is_symlink()


def test_real_crops_put_cups_under_cup_and_glasses_under_the_fragile_set(tmp_path, capsys):
    from glass_perception.core.geometry import square_crop
    from glass_perception.tools import real_crops

    _yolo_folder(tmp_path / 'coco')
    out = tmp_path / 'crops'
    args = ['--photos', str(tmp_path / 'coco'), '--out', str(out), '--copies', '3']
    assert real_crops.main(args + ['--crop-size', '48']) == 0
    cups = sorted((out / 'cup').glob('*.png'))
    glasses = sorted((out / 'beer_glass+soju_glass').glob('*.png'))
    assert [f.name for f in cups] == ['p_0_0.png', 'p_0_1.png', 'p_0_2.png']
    assert [f.name for f in glasses] == ['p_2_0.png', 'p_2_1.png', 'p_2_2.png']  # the wine glass
    assert sorted(p.name for p in out.iterdir()) == ['beer_glass+soju_glass', 'cup']
    # the first cut is the true box, cut as the detector node cuts
    image = cv2.imread(str(tmp_path / 'coco' / 'images' / 'a' / 'p.jpg'))
    want = square_crop(image, Box(50, 50, 20, 40), 0.1, 48)
    assert np.abs(cv2.imread(str(cups[0])).astype(int) - want).max() <= 1
    assert cv2.imread(str(cups[1])).shape == (48, 48, 3)
    # leaving the only labelled photograph out leaves nothing to cut: a clear error
    assert real_crops.main(args + ['--out', str(tmp_path / 'none'), '--exclude', 'p.jpg']) == 2
    assert 'no cup or wine-glass boxes' in capsys.readouterr().err
    assert real_crops.main(args[:4] + ['--copies', '0']) == 2


class _Boxes:
    """A detector that returns fixed boxes, to test the counting alone."""

    def __init__(self, found):
        self.found = found

    def detect(self, image, conf, iou, max_det):
        return list(self.found)


def test_photo_scoring_counts_found_glasses_and_false_boxes(tmp_path):
    _yolo_folder(tmp_path / 'coco')
    cup = Detection(Box(50, 50, 20, 40), 'cup', 0.9)
    wrong_class = Detection(Box(150, 50, 20, 40), 'cup', 0.9)  # on the wine glass, as a cup
    nothing = Detection(Box(100, 90, 10, 10), 'wine glass', 0.9)
    r = real.evaluate_photos(tmp_path / 'coco', _Boxes([cup, wrong_class, nothing]))
    assert r['images'] == 2
    assert r['by_class']['cup']['found'] == 1 and r['by_class']['cup']['n'] == 1
    assert r['by_class']['wine glass']['found'] == 0
    # per image: the box on nothing is false, the box on the wine glass is not (of glassware);
    # on q every box is false
    assert r['false_per_image'] == pytest.approx((1 + 3) / 2)


@needs_real
def test_the_labels_name_frames_that_exist_and_boxes_inside_them():
    frames = real.load_labels()
    assert len(frames) == 9
    kinds = {o['kind'] for f in frames for o in f['objects']}
    assert {'beer_glass', 'soju_glass', 'bottle', 'cup'} <= kinds
    for f in frames:
        h, w = cv2.imread(str(f['color'])).shape[:2]
        assert f['depth'].is_file()
        for o in f['objects']:
            x0, y0, x1, y1 = o['box']
            assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h, (f['name'], o)


@needs_real
def test_real_frames_score_a_detector_that_finds_exactly_the_labels():
    frames = real.load_labels()
    one = [f for f in frames if f['name'] == 'cleargrasp_glasses/exp-002/0']

    class Perfect:
        def detect(self, image, conf, iou, max_det):
            return [
                Detection(Box.from_xyxy(*o['box']), 'wine glass', 0.9) for o in one[0]['objects']
            ]

    r = real.evaluate_real_frames(one, Perfect())
    assert r['drinking_glasses']['recall'] == 1.0
    assert r['by_scene']['drinking_glasses']['false_per_frame'] == 0.0


@needs_real
def test_the_glass_cups_are_cup_boxes_of_coco128():
    glass = real.glass_cups()
    assert len(glass) == 14
    for name, line in glass:
        label = next((REAL / 'coco128' / 'labels').rglob(name.replace('.jpg', '.txt')))
        assert label.read_text().split('\n')[line].split()[0] == str(real.COCO_IDS['cup'])


@needs_real
def test_the_localizer_places_the_real_drinking_glasses_and_draws_them(tmp_path):
    from glass_perception.tools import evaluate_3d

    out = tmp_path / 'drawn'
    report = tmp_path / 'r.json'
    assert evaluate_3d.main(['--real', '--draw', str(out), '--json', str(report)]) == 0
    rows = json.loads(report.read_text())['real_frames']
    drawn = sorted(p.name for p in out.iterdir())
    assert len(drawn) == 9 and all(cv2.imread(str(out / n)) is not None for n in drawn)
    # upright drinking glasses on tables, 0.4-0.9 m away: placed on the table, not flagged, with
    # the heights of such glasses (these frames have no 3D truth; the labels' notes say what
    # each is: shot glasses 5-7 cm, tall glasses 12-16 cm)
    glasses = [r for r in rows if r['frame'].startswith('cleargrasp_glasses/exp')]
    assert len(glasses) == 5
    for r in glasses:
        assert r['method'] == 'surface' and not r['flag'], r
        assert 0.35 < r['distance_m'] < 0.9
        low, high = (4.0, 8.0) if r['kind'] == 'soju_glass' else (11.0, 17.0)
        assert low <= r['height_cm'] <= high, r
