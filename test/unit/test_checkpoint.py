"""glass_perception.core.classifier: checkpoint save/load, load faults, inference."""

from __future__ import annotations

import json
import shutil

from glass_perception.core.classifier import (
    build_model,
    checkpoint_paths,
    frozen_for_cpu,
    GlassClassifier,
    load_checkpoint,
    preprocess,
)
from glass_perception.core.classifier_meta import ClassifierMeta, FORMAT
from glass_perception.core.device import resolve_device
from glass_perception.core.errors import ModelLoadError
from glass_perception.workflow.checkpoints import save_checkpoint
import numpy as np
import pytest
import torch

NAMES = ['cup', 'beer_glass', 'soju_glass']
SIZE = 32  # the smallest practical input keeps these tests fast


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope='module')
def saved(tmp_path_factory):
    """Save a small untrained mobilenet_v2 checkpoint: (model, meta, weights path, json path)."""
    torch.manual_seed(0)
    model = build_model('mobilenet_v2', 3, 'dense128').eval()
    meta = ClassifierMeta(
        'mobilenet_v2', list(NAMES), SIZE, training={'epochs': 1, 'note': 'test'}
    )
    weights, meta_path = save_checkpoint(model, meta, tmp_path_factory.mktemp('ckpt') / 'glass')
    return model, meta, weights, meta_path


@pytest.fixture
def copy(saved, tmp_path):
    """Copy the saved checkpoint privately, for a test to break: (weights, json)."""
    _, _, weights, meta_path = saved
    return shutil.copy(weights, tmp_path / weights.name), shutil.copy(
        meta_path, tmp_path / meta_path.name
    )


def edit_json(path, **changes):
    d = json.loads(path.read_text())
    d.update(changes)
    path.write_text(json.dumps(d))


def expect_load_error(path_to_load, offending, *words):
    with pytest.raises(ModelLoadError) as info:
        load_checkpoint(path_to_load)
    message = str(info.value)
    assert str(offending) in message
    for w in words:
        assert w in message
    return message


# ---- roundtrip ----------------------------------------------------------------------------------


def test_save_writes_two_files_and_nothing_else(saved):
    _, _, weights, meta_path = saved
    assert (weights.suffix, meta_path.suffix) == ('.safetensors', '.json')
    assert weights.stem == meta_path.stem == 'glass'
    assert sorted(p.name for p in weights.parent.iterdir()) == ['glass.json', 'glass.safetensors']
    d = json.loads(meta_path.read_text())
    assert d['format'] == FORMAT and d['format_version'] == 1 and d['class_names'] == NAMES


def test_roundtrip_gives_identical_outputs(saved):
    model, meta, weights, _ = saved
    loaded, loaded_meta = load_checkpoint(weights)
    assert loaded_meta == meta
    assert not loaded.training
    x = torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))


@pytest.mark.parametrize('form', ['stem', 'json', 'safetensors'])
def test_either_file_or_the_stem_names_the_checkpoint(saved, form):
    _, meta, weights, meta_path = saved
    path = {'stem': weights.with_suffix(''), 'json': meta_path, 'safetensors': weights}[form]
    assert checkpoint_paths(path) == (weights, meta_path)
    assert load_checkpoint(str(path))[1] == meta


# ---- inference ----------------------------------------------------------------------------------


def test_predict_gives_probability_rows(saved):
    clf = GlassClassifier(saved[2], 'cpu')
    assert clf.class_names == NAMES and clf.device == 'cpu'
    rng = np.random.default_rng(2)
    crops = [
        rng.integers(0, 256, (s, s, 3), dtype=np.uint8) for s in (SIZE, 64, 20)
    ]  # resized as needed
    probs = clf.predict(crops)
    assert probs.shape == (3, 3) and probs.dtype == np.float32
    assert (probs >= 0).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    # one forward pass for all crops gives the same rows as one crop at a time
    np.testing.assert_allclose(clf.predict(crops[1:2])[0], probs[1], atol=1e-5)


def test_the_frozen_cpu_model_gives_the_eager_models_probabilities(saved):
    fast, eager = GlassClassifier(saved[2]), GlassClassifier(saved[2], optimise=False)
    assert fast.optimised and not eager.optimised
    rng = np.random.default_rng(3)
    for n in (1, 2, 7, 32):  # the trace must not have fixed the batch size
        crops = [rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8) for _ in range(n)]
        np.testing.assert_allclose(fast.predict(crops), eager.predict(crops), atol=1e-5)


def test_a_model_the_tracer_cannot_take_stays_eager():
    class BatchBaked(
        torch.nn.Module
    ):  # len(x) becomes a constant in a trace: wrong at other batch sizes
        def forward(self, x):
            return x.mean(dim=(2, 3)) * len(x)

    model = BatchBaked()
    assert frozen_for_cpu(model, 8) is model


def test_predict_nothing(saved):
    out = GlassClassifier(saved[2]).predict([])
    assert out.shape == (0, 3)


def test_preprocess_swaps_bgr_to_rgb_and_normalises(saved):
    meta = saved[1]
    blue = np.zeros((SIZE, SIZE, 3), np.uint8)
    blue[..., 0] = 255  # BGR: pure blue
    x = preprocess([blue], meta)
    assert x.shape == (1, 3, SIZE, SIZE) and x.dtype == torch.float32
    r, g, b = (float(x[0, c, 0, 0]) for c in range(3))
    assert r == pytest.approx((0 - meta.mean[0]) / meta.std[0], abs=1e-5)
    assert g == pytest.approx((0 - meta.mean[1]) / meta.std[1], abs=1e-5)
    assert b == pytest.approx((1 - meta.mean[2]) / meta.std[2], abs=1e-5)


def test_resolve_device():
    assert resolve_device('cpu') == 'cpu'
    assert resolve_device(' CPU ') == 'cpu'
    assert resolve_device('') == 'cpu'
    for bad in ('gpu', 'tpu', 'cuda0'):
        with pytest.raises(ValueError, match='not one of'):
            resolve_device(bad)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match='not available'):
            resolve_device('cuda')
    else:
        with pytest.raises(ValueError, match='does not exist'):
            resolve_device(f'cuda:{torch.cuda.device_count()}')


# ---- load faults: ModelLoadError naming the file ------------------------------------------------


def test_missing_weights(copy):
    weights, meta_path = copy
    weights.unlink()
    expect_load_error(meta_path, weights, 'file not found')


def test_missing_metadata(copy):
    weights, meta_path = copy
    meta_path.unlink()
    expect_load_error(weights, meta_path, 'file not found')


@pytest.mark.parametrize('which', [0, 1])
def test_empty_file(copy, which):
    copy[which].write_bytes(b'')
    expect_load_error(copy[0], copy[which], 'empty')


@pytest.mark.parametrize(
    'garbage',
    [
        b'x',
        b'not a safetensors file at all',
        b'\x10\x00\x00\x00\x00\x00\x00\x00{"a": 1}       ',
        bytes(range(256)) * 4,
    ],
)
def test_garbage_weights(copy, garbage):
    weights, _ = copy
    weights.write_bytes(garbage)
    expect_load_error(weights, weights, 'not a readable safetensors file')


def test_truncated_weights(copy):
    weights, _ = copy
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    expect_load_error(weights, weights)


def test_invalid_json(copy):
    _, meta_path = copy
    meta_path.write_text('{"format": "glass_perception.classifier", ')
    expect_load_error(meta_path, meta_path, 'not valid JSON')


@pytest.mark.parametrize(
    'text', ['{"format": "something.else", "format_version": 1}', '[1, 2, 3]', '"text"']
)
def test_wrong_format(copy, text):
    _, meta_path = copy
    meta_path.write_text(text)
    expect_load_error(meta_path, meta_path, 'not a glass_perception classifier')


@pytest.mark.parametrize(
    'changes, words',
    [
        ({'format_version': 2}, 'format_version 2'),
        ({'architecture': 'alexnet'}, "architecture 'alexnet' is unknown"),
        ({'head': 'mlp'}, "head 'mlp' is unknown"),
        ({'class_names': ['cup']}, 'at least two distinct'),
        ({'class_names': ['cup', 'cup', 'beer_glass']}, 'at least two distinct'),
        ({'input_size': 8}, 'out of range'),
        ({'input_size': 'large'}, 'malformed'),
        ({'std': [0.2, 0.0, 0.2]}, 'out of range'),
        ({'channel_order': 'yuv'}, 'out of range'),
    ],
)
def test_bad_metadata_fields(copy, changes, words):
    _, meta_path = copy
    edit_json(meta_path, **changes)
    expect_load_error(meta_path, meta_path, words)


def test_missing_metadata_field(copy):
    _, meta_path = copy
    d = json.loads(meta_path.read_text())
    del d['class_names']
    meta_path.write_text(json.dumps(d))
    expect_load_error(meta_path, meta_path, 'missing or malformed field')


def test_weights_of_another_class_count(tmp_path):
    torch.manual_seed(0)
    weights, meta_path = save_checkpoint(
        build_model('mobilenet_v2', 4, 'dense128'),
        ClassifierMeta('mobilenet_v2', NAMES + ['mug'], SIZE),
        tmp_path / 'four',
    )
    edit_json(meta_path, class_names=NAMES)
    expect_load_error(weights, weights, 'do not fit', '3 classes', 'head has 4 outputs')


def test_weights_of_another_head(copy):
    weights, meta_path = copy
    edit_json(meta_path, head='linear')
    expect_load_error(weights, weights, 'do not fit', 'linear head', 'missing')


def test_weights_of_another_architecture(copy):
    weights, meta_path = copy
    edit_json(meta_path, architecture='resnet50')
    expect_load_error(weights, weights, 'do not fit a resnet50', 'the weights are a mobilenet_v2')


def test_class_names_given_as_a_string_is_refused(copy):
    weights, meta_path = copy
    edit_json(meta_path, class_names='cup')  # three distinct characters, like a 3-class model
    expect_load_error(meta_path, meta_path, 'class_names')
