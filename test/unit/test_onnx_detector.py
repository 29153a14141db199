"""
Detector weights as data: ONNX and .pt detectors agree, bad files fail at once.

An ONNX export of the shipped detector finds what the .pt finds, and a bad weights file of either
format fails at once with one line naming the file (never a pip install).
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import types

from glass_perception.core.detector import Detector
from glass_perception.core.errors import ModelLoadError
from glass_perception.core.paths import (
    DEFAULT_CLASSIFIER_CHECKPOINT as DEFAULT_CLASSIFIER,
    DEFAULT_DETECTOR_WEIGHTS as DEFAULT_DETECTOR,
)
from glass_perception.core.synthetic import render_scene
from glass_perception.tools.export_detector import export_onnx
from glass_perception.tools.export_detector import main as export_main
import pytest


@pytest.fixture(scope='module')
def onnx_path(tmp_path_factory):
    return export_onnx(
        DEFAULT_DETECTOR, tmp_path_factory.mktemp('onnx') / 'shipped_detector.onnx', imgsz=320
    )


@pytest.fixture(scope='module')
def pt_detector():
    return Detector('', 'cpu', 320)


def _matched(strong, others) -> bool:
    """Every confident detection of one model has one of the other's, same class, IoU > 0.9."""
    return all(
        any(o.class_name == d.class_name and o.box.iou(d.box) > 0.9 for o in others)
        for d in strong
    )


@pytest.mark.parametrize('seed, index', [(3, 0), (5, 1), (11, 2)])
def test_onnx_finds_what_the_pt_finds(onnx_path, pt_detector, seed, index):
    onnx_detector = Detector(str(onnx_path), 'cpu', 320)
    assert (
        onnx_detector.class_names
        == pt_detector.class_names
        == ['cup', 'wine glass', 'bottle', 'bowl']
    )
    assert onnx_detector.imgsz == 320 and not onnx_detector.notes
    image = render_scene(seed, index).image
    # confident ones (score >= 0.45) against everything above 0.25: scores differ in the third
    # decimal
    pt = pt_detector.detect(image, 0.25, 0.5, 50)
    ox = onnx_detector.detect(image, 0.25, 0.5, 50)
    pt_strong, ox_strong = [d for d in pt if d.score >= 0.45], [d for d in ox if d.score >= 0.45]
    assert pt_strong, 'the scene should hold something the detector is sure of'
    assert _matched(pt_strong, ox) and _matched(ox_strong, pt), f'\n.pt:   {pt}\n.onnx: {ox}'


def test_fixed_input_size_of_the_onnx_model_wins_and_is_noted(onnx_path):
    d = Detector(str(onnx_path), 'cpu', 640, warmup=False)
    assert d.imgsz == 320
    assert len(d.notes) == 1 and '320x320' in d.notes[0] and 'imgsz 640' in d.notes[0]
    assert d.detect(render_scene(3, 0).image, 0.35, 0.5, 50)


def test_export_cli_writes_the_file_and_refuses_a_non_detector(tmp_path, capsys):
    assert export_main([str(DEFAULT_CLASSIFIER), '--out', str(tmp_path / 'x.onnx')]) == 1
    assert 'not a .pt file' in capsys.readouterr().err
    assert not (tmp_path / 'x.onnx').exists()


# ---- bad files: ModelLoadError naming the file --------------------------------------------------


def _expect_error(path, *words):
    with pytest.raises(ModelLoadError) as info:
        Detector(str(path), 'cpu', 320)
    message = str(info.value)
    assert str(path) in message and '\n' not in message, message
    for w in words:
        assert w in message, message


def test_truncated_or_garbage_onnx(onnx_path, tmp_path):
    data = onnx_path.read_bytes()
    (tmp_path / 'truncated.onnx').write_bytes(data[: len(data) // 2])
    (tmp_path / 'garbage.onnx').write_bytes(b'this is not a model\n' * 20)
    _expect_error(
        tmp_path / 'truncated.onnx', 'not a readable ONNX model', 'glass-export-detector'
    )
    _expect_error(tmp_path / 'garbage.onnx', 'not a readable ONNX model')


def test_onnx_that_is_not_an_ultralytics_detector(onnx_path, tmp_path):
    import onnx
    from onnx import helper, TensorProto

    graph = helper.make_graph(
        [helper.make_node('Identity', ['x'], ['y'])],
        'g',
        [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info('y', TensorProto.FLOAT, [1, 3, 8, 8])],
    )
    onnx.save(helper.make_model(graph), str(tmp_path / 'identity.onnx'))
    _expect_error(tmp_path / 'identity.onnx', 'without Ultralytics metadata')

    model = onnx.load(str(onnx_path))
    next(p for p in model.metadata_props if p.key == 'task').value = 'classify'
    onnx.save(model, str(tmp_path / 'classify.onnx'))
    _expect_error(tmp_path / 'classify.onnx', "'classify' model, not a detection model")


def test_pt_files_that_are_not_a_yolo_detector(tmp_path, monkeypatch):
    import torch
    from ultralytics.utils import checks

    installs = []
    monkeypatch.setattr(
        checks, 'ONLINE', True
    )  # offline, Ultralytics skips its auto-install anyway
    monkeypatch.setattr(
        subprocess, 'check_output', lambda *a, **k: installs.append(a)
    )  # how it runs pip
    torch.save({'conv.weight': torch.zeros(2, 2)}, tmp_path / 'state_dict.pt')
    (tmp_path / 'random.pt').write_bytes(pickle.dumps({'hello': [1, 2, 3]}))
    # a pickle naming a module that is not installed: Ultralytics would pip-install it unless told
    # not to
    module = types.ModuleType('glass_no_such_module')
    module.Foo = type('Foo', (), {'__module__': module.__name__})
    monkeypatch.setitem(sys.modules, module.__name__, module)
    (tmp_path / 'missing_module.pt').write_bytes(pickle.dumps(module.Foo()))
    monkeypatch.delitem(sys.modules, module.__name__)
    data = DEFAULT_DETECTOR.read_bytes()
    (tmp_path / 'truncated.pt').write_bytes(data[: len(data) // 2])
    (tmp_path / 'classifier.safetensors').write_bytes(DEFAULT_CLASSIFIER.read_bytes()[:4096])
    for name in ('state_dict.pt', 'random.pt', 'missing_module.pt', 'truncated.pt'):
        _expect_error(tmp_path / name, 'cannot load detector')
    _expect_error(tmp_path / 'classifier.safetensors', 'must be a .pt or .onnx', 'classifier')
    assert not installs, f'loading a model tried to install packages: {installs}'


def test_classification_pt_is_refused(tmp_path):
    from ultralytics import YOLO

    YOLO('yolo11n-cls.yaml').save(tmp_path / 'cls.pt')  # built from Ultralytics' own yaml, offline
    _expect_error(tmp_path / 'cls.pt', "'classify' model, not a detection model")
