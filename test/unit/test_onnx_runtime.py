"""
The ONNX Runtime path, the default: torch-free, and the same boxes and labels as the torch path.

The shipped .onnx files are exports of the shipped .pt and .safetensors (glass-export-detector
--dynamic, glass-export-classifier); these tests run both on the shipped RGB-D scenes, which
neither model was trained on.
"""

import json
import subprocess
import sys

from glass_perception.core.detector import Detector
from glass_perception.core.errors import ModelLoadError
from glass_perception.core.geometry import Box, square_crop
from glass_perception.core.models import open_classifier
from glass_perception.core.onnx_models import letterbox, OnnxGlassClassifier
from glass_perception.core.paths import (
    DEFAULT_CLASSIFIER,
    DEFAULT_CLASSIFIER_CHECKPOINT,
    DEFAULT_DETECTOR,
    DEFAULT_DETECTOR_WEIGHTS,
    DEFAULT_SCENES,
)
from glass_perception.core.synthetic import CLASSES, DETECTOR_CLASSES, DETECTOR_NAME
from glass_perception.workflow.detection_metrics import map50
from glass_perception.workflow.evaluation_3d import load_rgbd_folder
from glass_perception.workflow.evaluation_detector import evaluate_detector
import numpy as np
import pytest

SCENES = 40  # all the shipped ones: enough boxes for mAP to mean something, a few seconds


@pytest.fixture(scope='module')
def scenes():
    out = []
    for i, (_, colour, _, _, truth) in enumerate(load_rgbd_folder(DEFAULT_SCENES)):
        if i >= SCENES:
            break
        out.append(
            (colour, [(Box(*o['box']), o['kind'], o['visibility']) for o in truth['objects']])
        )
    return out


def test_nodes_given_onnx_models_import_neither_torch_nor_ultralytics():
    code = (
        'import sys, numpy as np\n'
        'import glass_perception.nodes.detector_node, glass_perception.nodes.classifier_node\n'
        'import glass_perception.nodes.localizer_node\n'
        'from glass_perception.core.detector import Detector\n'
        'from glass_perception.core.models import open_classifier\n'
        'from glass_perception.core.paths import DEFAULT_CLASSIFIER\n'
        'from glass_perception.core.cpu import set_threads\n'
        'set_threads(1)\n'
        "d = Detector('', 'cpu', 480, threads=1)\n"
        'd.detect(np.zeros((480, 640, 3), np.uint8), 0.35, 0.5, 50)\n'
        "c = open_classifier(DEFAULT_CLASSIFIER, 'cpu', 1)\n"
        'c.predict([np.zeros((96, 96, 3), np.uint8)])\n'
        "print(sorted(m for m in ('torch', 'ultralytics', 'torchvision') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == '[]'


def test_the_onnx_detector_has_the_torch_detectors_map50(scenes):
    truth = [
        (img, [(b, DETECTOR_NAME[k]) for b, k, v in objs if v >= 0.6]) for img, objs in scenes
    ]
    names = list(DETECTOR_CLASSES)
    pt = map50(Detector(str(DEFAULT_DETECTOR_WEIGHTS), 'cpu', 480), truth, names)
    ox = map50(Detector(str(DEFAULT_DETECTOR), 'cpu', 480, runtime='onnxruntime'), truth, names)
    for name in ('cup', 'wine glass', 'all'):
        assert abs(pt[name] - ox[name]) <= 0.005, (name, pt, ox)
    # a floor under the shipped detector on these steep, far demo scenes: stage 6 (renders only)
    # was above 0.9 for both; stage 10 (COCO YOLOv5n, fine-tuned) measures 0.877 (cup) and 0.884
    # (wine glass) here, its held-out recall at the node's thresholds is in the model card
    assert ox['cup'] > 0.85 and ox['wine glass'] > 0.85, (pt, ox)


def test_the_onnx_classifier_labels_the_crops_as_the_checkpoint_does(scenes):
    torch_clf = open_classifier(DEFAULT_CLASSIFIER_CHECKPOINT)
    onnx_clf = open_classifier(DEFAULT_CLASSIFIER, runtime='onnxruntime')
    assert isinstance(onnx_clf, OnnxGlassClassifier)
    names = onnx_clf.class_names
    assert names == torch_clf.class_names and set(names) == set(CLASSES)
    crops, kinds = [], []
    for img, objs in scenes:
        for box, kind, vis in objs:
            if kind in CLASSES and vis >= 0.6:
                crops.append(square_crop(img, box, onnx_clf.meta.crop_padding, 96))
                kinds.append(kind)
    assert len(crops) >= 60
    p_torch, p_onnx = torch_clf.predict(crops), onnx_clf.predict(crops)
    assert np.abs(p_torch - p_onnx).max() < 1e-3  # the frozen torch model vs the ONNX graph
    right_t = sum(names[i] == k for i, k in zip(p_torch.argmax(1), kinds))
    right_o = sum(names[i] == k for i, k in zip(p_onnx.argmax(1), kinds))
    assert abs(right_t - right_o) <= 1


def test_letterbox_pads_to_a_square_or_to_the_stride():
    img = np.full((480, 640, 3), 200, np.uint8)
    square, r, pad = letterbox(img, (480, 480))
    assert square.shape == (1, 3, 480, 480) and r == 0.75 and pad == (0, 60)
    rect, _, pad = letterbox(img, (480, 480), stride=32)
    assert rect.shape == (1, 3, 384, 480) and pad == (0, 12)
    assert rect[0, :, 0, 0] == pytest.approx(114 / 255) and rect[0, :, 200, 200] == pytest.approx(
        200 / 255
    )


def test_export_classifier_writes_an_equivalent_onnx_with_its_json(tmp_path):
    from glass_perception.tools.export_classifier import main

    out = tmp_path / 'mine.onnx'
    assert main([str(DEFAULT_CLASSIFIER_CHECKPOINT), '--out', str(out)]) == 0
    assert out.is_file() and out.with_suffix('.json').is_file()
    meta = json.loads(out.with_suffix('.json').read_text())
    assert set(meta['class_names']) == set(CLASSES)
    crops = [np.random.default_rng(1).integers(0, 256, (96, 96, 3), dtype=np.uint8)]
    assert np.allclose(
        OnnxGlassClassifier(out).predict(crops),
        OnnxGlassClassifier(DEFAULT_CLASSIFIER).predict(crops),
    )


@pytest.mark.parametrize('fault', ['garbage', 'truncated', 'no_json', 'wrong_classes'])
def test_a_broken_onnx_classifier_stops_with_a_line_naming_the_file(tmp_path, fault):
    path = tmp_path / 'c.onnx'
    data = DEFAULT_CLASSIFIER.read_bytes()
    meta = json.loads(DEFAULT_CLASSIFIER.with_suffix('.json').read_text())
    path.write_bytes(
        b'not onnx' * 10
        if fault == 'garbage'
        else data[: len(data) // 2]
        if fault == 'truncated'
        else data
    )
    if fault == 'wrong_classes':
        meta['class_names'] = meta['class_names'] + ['mug']
    if fault != 'no_json':
        path.with_suffix('.json').write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError) as info:
        open_classifier(path)
    assert str(tmp_path) in str(info.value) and '\n' not in str(info.value)


@pytest.mark.parametrize('w, h', [(1, 1), (4000, 2), (2, 3000), (640, 480)])
def test_letterbox_takes_any_legal_image_size(w, h):
    for stride in (0, 32):
        blob, r, _ = letterbox(np.zeros((h, w, 3), np.uint8), (480, 480), stride)
        assert blob.shape[2] <= 480 and blob.shape[3] <= 480 and r > 0


def test_openvino_gives_the_onnx_runtime_boxes_and_labels(scenes):
    pytest.importorskip('openvino')
    truth = [
        (img, [(b, DETECTOR_NAME[k]) for b, k, v in objs if v >= 0.6]) for img, objs in scenes
    ]
    names = list(DETECTOR_CLASSES)
    det_ox = Detector('', 'cpu', 480, runtime='onnxruntime')
    det_ov = Detector('', 'cpu', 480, runtime='openvino')
    # at the node's thresholds both find the same glasses of the shipped scenes
    r_ox, r_ov = (
        evaluate_detector(DEFAULT_SCENES, det_ox),
        evaluate_detector(DEFAULT_SCENES, det_ov),
    )
    for cls, c in r_ox['per_class'].items():
        assert abs(c['found'] - r_ov['per_class'][cls]['found']) <= 1, (cls, r_ox, r_ov)
    # bfloat16 reorders some low scores (mAP counts boxes down to 0.01): the stage-6 detector's
    # cup AP moved by 0.045 on these 40 scenes (one cup ranked below a false box)
    ox, ov = map50(det_ox, truth, names), map50(det_ov, truth, names)
    for name in ('cup', 'wine glass', 'all'):
        assert abs(ox[name] - ov[name]) <= 0.05, (name, ox, ov)
    crops = [square_crop(img, b, 0.1, 96) for img, objs in scenes[:10] for b, k, v in objs]
    p_ox = open_classifier(DEFAULT_CLASSIFIER, runtime='onnxruntime').predict(crops)
    p_ov = open_classifier(DEFAULT_CLASSIFIER, runtime='openvino').predict(crops)
    assert (p_ox.argmax(1) != p_ov.argmax(1)).sum() <= 1  # bfloat16 where the CPU has it


def test_an_unknown_runtime_is_refused_naming_the_file():
    with pytest.raises(ModelLoadError, match="runtime 'tvm'"):
        open_classifier(DEFAULT_CLASSIFIER, runtime='tvm')


def test_auto_runtime_is_openvino_on_the_cpu_where_installed_else_onnx_runtime():
    import importlib.util

    from glass_perception.core.onnx_models import resolve_runtime

    have = importlib.util.find_spec('openvino') is not None
    assert resolve_runtime('auto', 'cpu') == ('openvino' if have else 'onnxruntime')
    assert resolve_runtime('auto', 'cuda:0') == 'onnxruntime'
    assert resolve_runtime('onnxruntime', 'cpu') == 'onnxruntime'
    assert Detector('', 'cpu', 480, runtime='auto').runtime == resolve_runtime('auto', 'cpu')
    assert Detector('', 'cpu', 480).runtime == 'onnxruntime'  # the default
