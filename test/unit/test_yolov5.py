"""YOLOv5's anchor head in Ultralytics: loss and matching, export, the detector's two paths."""

from pathlib import Path

import cv2
from glass_perception.core.detector import Detector
from glass_perception.core.yolov5 import YOLOv5DetectionModel
from glass_perception.workflow import pretrained
from glass_perception.workflow.yolov5_training import (
    coco_model,
    DETECTOR_COCO_CLASSES,
    save_checkpoint,
    YOLOv5Loss,
)
import numpy as np
import pytest
import torch

YOLO = Path(__file__).resolve().parents[3] / 'shared' / 'weights' / pretrained.YOLOV5N


def _batch(n_images=2):
    # one box per image: normalised centre x, y, width, height
    return {
        'batch_idx': torch.arange(n_images, dtype=torch.float32),
        'cls': torch.ones(n_images, 1),
        'bboxes': torch.tensor([[0.5, 0.5, 0.25, 0.5]] * n_images),
    }


def test_a_target_is_matched_in_its_cell_and_its_two_nearest_neighbours():
    model = YOLOv5DetectionModel(nc=2)
    loss = YOLOv5Loss(model, imgsz=256)
    # on the stride-8 level of 32 x 32 cells the centre (16.96, 15.04) is in cell (16, 15),
    # near its right and upper neighbours; the box (3.2 x 6.4 cells) fits all three anchors
    targets = torch.tensor([[0.0, 1.0, 0.53, 0.47, 0.1, 0.2]])
    b, a, gj, gi, tbox, anchors, tcls = loss.match(targets, 0, 32, 32)
    cells = set(zip(gi.tolist(), gj.tolist()))
    assert cells == {(16, 15), (17, 15), (16, 14)} and len(b) == 9
    # the same box is more than 4 times smaller than every stride-32 anchor: no match there
    assert len(loss.match(targets, 2, 8, 8)[0]) == 0
    assert (tcls == 1).all() and (b == 0).all()
    assert ((tbox[:, :2] > -0.5) & (tbox[:, :2] < 1.5)).all()  # offsets within reach
    # anchors whose shape is more than 4x off the box's are not used
    ratio = tbox[:, 2:] / anchors
    assert (torch.max(ratio, 1 / ratio).max(1)[0] < 4).all()


def test_the_loss_falls_when_the_model_learns_a_box():
    torch.manual_seed(0)
    model = YOLOv5DetectionModel(nc=2).train()
    loss_fn = YOLOv5Loss(model, imgsz=128)
    x = torch.rand(2, 3, 128, 128)
    batch = _batch()
    opt = torch.optim.Adam(model.parameters(), lr=0.002)
    first = None
    for _ in range(25):
        loss, items = loss_fn(model(x), batch)
        first = float(loss) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert set(items) == {'box', 'obj', 'cls'}
    assert float(loss) < 0.5 * first


def test_eval_output_has_ultralytics_layout():
    model = YOLOv5DetectionModel(nc=4).eval()
    with torch.no_grad():
        y, raw = model(torch.rand(1, 3, 160, 160))
    # three anchors on 20x20, 10x10 and 5x5 cells; 4 box values then 4 class scores
    assert y.shape == (1, 8, 3 * (400 + 100 + 25))
    assert [r.shape[1:] for r in raw] == [(3, 20, 20, 9), (3, 10, 10, 9), (3, 5, 5, 9)]
    assert 0.0 <= float(y[0, 4:].min()) and float(y[0, 4:].max()) <= 1.0


@pytest.mark.skipif(not YOLO.is_file(), reason=f'{YOLO} is not here (shared/weights)')
def test_the_converted_model_runs_in_the_detector_on_both_paths(tmp_path):
    import skimage.data

    from glass_perception.tools.export_detector import export_onnx

    pt = save_checkpoint(
        coco_model(pretrained.read_yolov5_checkpoint(YOLO), DETECTOR_COCO_CLASSES),
        tmp_path / 'yolov5n_coco_test.pt',
    )
    onnx = export_onnx(pt, tmp_path / 'yolov5n_coco_test.onnx', imgsz=480)
    image = cv2.cvtColor(skimage.data.coffee(), cv2.COLOR_RGB2BGR)  # a real photograph of a cup
    found = {}
    for path in (pt, onnx):
        det = Detector(str(path), imgsz=480)
        assert det.class_names == list(DETECTOR_COCO_CLASSES)
        found[path.suffix] = [d for d in det.detect(image, 0.35, 0.5, 50) if d.class_name == 'cup']
    for dets in found.values():
        assert len(dets) == 1
    a, b = found['.pt'][0], found['.onnx'][0]
    assert a.box.iou(b.box) > 0.9
    # the cup of skimage's coffee photograph, in its 400x600 image: about x 170-420, y 20-280
    assert 170 < a.box.cx < 420 and 20 < a.box.cy < 280 and a.box.w > 150
    assert np.isfinite(a.score) and a.score > 0.35
