"""
The pretrained starting points: hash checks, the allow-list unpickler, the TFLite conversion.

Refusals are tested on small files made here. The conversions are checked on the real files in
``shared/weights`` (CI has them) and skip, saying why, where they are missing; the original
YOLOv5 network runs from the ``yolov5`` package that setup installs in ``.venv/reference``.
"""

from pathlib import Path

from glass_perception.workflow import pretrained
from glass_perception.workflow.pretrained import PretrainedError
import numpy as np
import pytest
import torch

WEIGHTS = Path(__file__).resolve().parents[3] / 'shared' / 'weights'
REAL = Path(__file__).resolve().parents[3] / 'shared' / 'real'
YOLO = WEIGHTS / pretrained.YOLOV5N
TFLITE = WEIGHTS / pretrained.MOBILENET_V2_TFLITE
needs_yolo = pytest.mark.skipif(not YOLO.is_file(), reason=f'{YOLO} is not here (shared/weights)')
needs_tflite = pytest.mark.skipif(
    not TFLITE.is_file(), reason=f'{TFLITE} is not here (shared/weights)'
)


def test_a_wrong_hash_is_refused_naming_the_file(tmp_path):
    f = tmp_path / 'yolov5n.pt'
    torch.save({'model': None}, f)
    with pytest.raises(PretrainedError, match=r'yolov5n\.pt: SHA-256 .* is not the official'):
        pretrained.read_yolov5_checkpoint(f)
    with pytest.raises(PretrainedError, match='SHA-256'):
        pretrained.read_mobilenet_v2_tflite(f)


class _Runs:
    """Pickles as a call of os.system: what a malicious checkpoint would hold."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        import os

        return os.system, (f'touch {self.marker}',)


def test_a_checkpoint_naming_another_global_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / 'ran'
    f = tmp_path / 'evil.pt'
    torch.save({'model': _Runs(marker)}, f)
    with pytest.raises(PretrainedError) as e:
        pretrained.read_yolov5_checkpoint(f, sha256=pretrained.sha256_of(f))
    msg = str(e.value)
    assert '\n' not in msg and str(f) in msg
    assert 'system' in msg and 'nothing in it was run' in msg
    assert not marker.exists()


def test_an_allowed_class_holding_a_forbidden_one_is_refused(tmp_path):
    # a collections.Counter is a harmless class, but not one a YOLOv5 checkpoint contains
    import collections

    f = tmp_path / 'other.pt'
    torch.save({'model': collections.Counter(a=1)}, f)
    with pytest.raises(PretrainedError, match='collections.Counter'):
        pretrained.read_yolov5_checkpoint(f, sha256=None)


def test_garbage_is_not_a_checkpoint(tmp_path):
    f = tmp_path / 'garbage.pt'
    f.write_bytes(b'\x00not a zip at all' * 10)
    with pytest.raises(PretrainedError, match='garbage.pt'):
        pretrained.read_yolov5_checkpoint(f, sha256=None)


def _one_conv_tflite(path: Path) -> None:
    """Write a valid TFLite flatbuffer with a single uint8 CONV_2D: not MobileNetV2."""
    import importlib

    import flatbuffers
    from tflite.BuiltinOperator import BuiltinOperator

    # the generated modules (their builder functions), not the classes tflite exports
    Buffer, Model, Operator, OperatorCode, QuantizationParameters, SubGraph, Tensor = (
        importlib.import_module(f'tflite.{n}')
        for n in (
            'Buffer', 'Model', 'Operator', 'OperatorCode', 'QuantizationParameters', 'SubGraph',
            'Tensor',
        )
    )

    b = flatbuffers.Builder(1024)
    weights = np.arange(8 * 3 * 3 * 3, dtype=np.uint8).tobytes()
    bias = np.zeros(8, np.int32).tobytes()

    def buffer(data: bytes | None):
        vec = b.CreateByteVector(data) if data else None
        Buffer.BufferStart(b)
        if vec is not None:
            Buffer.BufferAddData(b, vec)
        return Buffer.BufferEnd(b)

    def vector(start, items, kind='offset'):
        start(b, len(items))
        for x in reversed(items):
            {'offset': b.PrependUOffsetTRelative, 'int': b.PrependInt32}[kind](x)
        return b.EndVector()

    def tensor(name, shape, ttype, buf):
        n = b.CreateString(name)
        shp = vector(Tensor.TensorStartShapeVector, shape, 'int')
        QuantizationParameters.QuantizationParametersStartScaleVector(b, 1)
        b.PrependFloat32(0.01)
        sc = b.EndVector()
        QuantizationParameters.QuantizationParametersStartZeroPointVector(b, 1)
        b.PrependInt64(0)
        zp = b.EndVector()
        QuantizationParameters.QuantizationParametersStart(b)
        QuantizationParameters.QuantizationParametersAddScale(b, sc)
        QuantizationParameters.QuantizationParametersAddZeroPoint(b, zp)
        q = QuantizationParameters.QuantizationParametersEnd(b)
        Tensor.TensorStart(b)
        Tensor.TensorAddShape(b, shp)
        Tensor.TensorAddType(b, ttype)
        Tensor.TensorAddBuffer(b, buf)
        Tensor.TensorAddName(b, n)
        Tensor.TensorAddQuantization(b, q)
        return Tensor.TensorEnd(b)

    buffers = [buffer(None), buffer(weights), buffer(bias)]
    tensors = [
        tensor('input', [1, 8, 8, 3], 3, 0),
        tensor('w', [8, 3, 3, 3], 3, 1),
        tensor('b', [8], 2, 2),
        tensor('out', [1, 8, 8, 8], 3, 0),
    ]
    ins = vector(Operator.OperatorStartInputsVector, [0, 1, 2], 'int')
    outs = vector(Operator.OperatorStartOutputsVector, [3], 'int')
    Operator.OperatorStart(b)
    Operator.OperatorAddOpcodeIndex(b, 0)
    Operator.OperatorAddInputs(b, ins)
    Operator.OperatorAddOutputs(b, outs)
    op = Operator.OperatorEnd(b)
    tvec = vector(SubGraph.SubGraphStartTensorsVector, tensors)
    ovec = vector(SubGraph.SubGraphStartOperatorsVector, [op])
    gin = vector(SubGraph.SubGraphStartInputsVector, [0], 'int')
    gout = vector(SubGraph.SubGraphStartOutputsVector, [3], 'int')
    SubGraph.SubGraphStart(b)
    SubGraph.SubGraphAddTensors(b, tvec)
    SubGraph.SubGraphAddOperators(b, ovec)
    SubGraph.SubGraphAddInputs(b, gin)
    SubGraph.SubGraphAddOutputs(b, gout)
    graph = SubGraph.SubGraphEnd(b)
    OperatorCode.OperatorCodeStart(b)
    OperatorCode.OperatorCodeAddDeprecatedBuiltinCode(b, BuiltinOperator.CONV_2D)
    OperatorCode.OperatorCodeAddBuiltinCode(b, BuiltinOperator.CONV_2D)
    code = OperatorCode.OperatorCodeEnd(b)
    codes = vector(Model.ModelStartOperatorCodesVector, [code])
    graphs = vector(Model.ModelStartSubgraphsVector, [graph])
    bvec = vector(Model.ModelStartBuffersVector, buffers)
    Model.ModelStart(b)
    Model.ModelAddVersion(b, 3)
    Model.ModelAddOperatorCodes(b, codes)
    Model.ModelAddSubgraphs(b, graphs)
    Model.ModelAddBuffers(b, bvec)
    b.Finish(Model.ModelEnd(b), file_identifier=b'TFL3')
    path.write_bytes(bytes(b.Output()))


def test_a_tflite_file_that_is_not_this_network_is_refused(tmp_path):
    f = tmp_path / 'tiny.tflite'
    _one_conv_tflite(f)
    with pytest.raises(PretrainedError, match=r'tiny\.tflite: 1 convolutions, MobileNetV2 1\.0'):
        pretrained.read_mobilenet_v2_tflite(f, sha256=None)
    g = tmp_path / 'junk.tflite'
    g.write_bytes(b'\x01\x02')
    with pytest.raises(PretrainedError, match='junk.tflite'):
        pretrained.read_mobilenet_v2_tflite(g, sha256=None)


def test_offline_copies_are_found_only_with_the_official_hash(tmp_path, monkeypatch):
    (tmp_path / pretrained.YOLOV5N).write_bytes(b'not it')
    assert pretrained.find_pretrained(pretrained.YOLOV5N, [tmp_path]) is None
    if YOLO.is_file():
        assert pretrained.find_pretrained(pretrained.YOLOV5N, [tmp_path, WEIGHTS]) == YOLO
    monkeypatch.setenv('GLASS_PRETRAINED_DIR', str(tmp_path))
    assert pretrained.default_search_dirs()[0] == tmp_path


@needs_yolo
def test_the_official_yolov5n_reads_as_coco_yolov5n():
    w = pretrained.read_yolov5_checkpoint(YOLO)
    assert len(w.names) == 80 and w.names[40:42] == ['wine glass', 'cup']
    assert w.strides == [8.0, 16.0, 32.0]
    np.testing.assert_allclose(w.anchors[0, 0], [10, 13])
    np.testing.assert_allclose(w.anchors[2, 2], [373, 326])
    assert tuple(w.state['model.24.m.0.weight'].shape) == (255, 64, 1, 1)
    assert all(t.dtype == torch.float32 for t in w.state.values())


@needs_yolo
def test_keeping_four_classes_keeps_their_scores_exactly():
    from glass_perception.workflow.yolov5_training import coco_model, DETECTOR_COCO_CLASSES

    w = pretrained.read_yolov5_checkpoint(YOLO)
    full, four = coco_model(w), coco_model(w, DETECTOR_COCO_CLASSES)
    assert list(four.names.values()) == list(DETECTOR_COCO_CLASSES)
    x = torch.rand(1, 3, 256, 256)
    with torch.no_grad():
        a, b = full(x)[0], four(x)[0]
    ids = [w.names.index(c) for c in DETECTOR_COCO_CLASSES]
    torch.testing.assert_close(b[0, :4], a[0, :4])
    torch.testing.assert_close(b[0, 4:], a[0, 4:][ids])


@needs_yolo
def test_the_converted_yolov5n_gives_the_original_detections_on_real_photographs():
    from glass_perception.workflow.reference import compare_yolov5, reference_dir

    try:
        from glass_perception.workflow.reference import load_original_yolov5

        load_original_yolov5(YOLO)
    except ImportError:
        pytest.skip(f'the yolov5 package is not installed in {reference_dir()} (scripts/setup)')
    photos = sorted((REAL / 'coco128' / 'images').rglob('*.jpg'))[:6]
    if not photos:
        pytest.skip(f'no COCO128 photographs in {REAL}')
    r = compare_yolov5(YOLO, photos, imgsz=640, conf=0.25)
    assert r['images'] == len(photos) and r['original'] > 5
    assert r['agree'] == r['original'] == r['converted']


@needs_tflite
def test_the_converted_mobilenet_agrees_with_the_tflite_interpreter(tmp_path):
    pytest.importorskip('ai_edge_litert', reason='LiteRT (ai-edge-litert) runs the TFLite model')
    import cv2
    import skimage.data

    from glass_perception.workflow.reference import compare_mobilenet

    files = []
    for name in ('coffee', 'chelsea', 'astronaut', 'rocket'):
        f = tmp_path / f'{name}.png'
        cv2.imwrite(str(f), cv2.cvtColor(getattr(skimage.data, name)(), cv2.COLOR_RGB2BGR))
        files.append(f)
    files += sorted((REAL / 'coco128' / 'images').rglob('*.jpg'))[:6]
    r = compare_mobilenet(TFLITE, files)
    assert r['images'] == len(files)
    assert r['agree_tf_padding'] >= 0.9 * r['images']


@needs_tflite
def test_imagenet_init_works_offline_from_the_tflite_copy(monkeypatch, tmp_path):
    from glass_perception.workflow.checkpoints import pretrained_model

    monkeypatch.setenv('TORCH_HOME', str(tmp_path))  # nothing of torchvision's cached
    monkeypatch.setenv('GLASS_PRETRAINED_DIR', str(WEIGHTS))
    model, given, source = pretrained_model('mobilenet_v2', 3)
    assert 'TFLite' in source and given == {
        'mean': [0.5, 0.5, 0.5],
        'std': [0.5, 0.5, 0.5],
        'padding': 'tf_same',
    }
    state = pretrained.read_mobilenet_v2_tflite(TFLITE)
    torch.testing.assert_close(model.features[0][0].weight, state['features.0.0.weight'])
    assert model(torch.rand(2, 3, 96, 96)).shape == (2, 3)


def test_training_from_a_yolov5n_pt_that_is_not_the_official_file_is_refused(tmp_path):
    from glass_perception.workflow.yolov5_training import starting_point

    f = tmp_path / 'yolov5n.pt'
    f.write_bytes(b'not the official checkpoint')
    with pytest.raises(PretrainedError, match='yolov5n.pt: SHA-256'):
        starting_point(str(f), ['cup', 'wine glass', 'bottle', 'bowl'], tmp_path / 'work')
