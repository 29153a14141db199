"""
The model workflow end to end, small enough for CI.

Synthesise, train, resume, evaluate, load.
"""

from __future__ import annotations

from dataclasses import replace
import json
from pathlib import Path

from glass_perception.core.classifier import GlassClassifier
from glass_perception.core.synthetic import CLASSES
from glass_perception.tools import evaluate, synth, train
from glass_perception.workflow.training import (
    learning_rate,
    LR_FLOOR,
    set_cross_entropy,
    TrainConfig,
)
import numpy as np
import pytest
import torch


def test_synth_train_resume_evaluate_and_load_like_the_node(tmp_path):
    for split, seed, scenes in (('train', 501, 16), ('val', 502, 6)):
        assert (
            synth.main(
                [
                    'classify',
                    '--out',
                    str(tmp_path / split),
                    '--seed',
                    str(seed),
                    '--scenes',
                    str(scenes),
                    '--crop-size',
                    '48',
                    '--renderer',
                    'pbr',
                    '--quality',
                    'preview',
                    '--width',
                    '200',
                    '--height',
                    '150',
                ]
            )
            == 0
        )
    for c in CLASSES:
        assert list((tmp_path / 'train' / c).glob('*.png')), f'no {c} crops rendered'

    out = tmp_path / 'models' / 'tiny.v1'  # a dotted stem must not confuse the file names
    common = [
        '--data',
        str(tmp_path / 'train'),
        '--val-data',
        str(tmp_path / 'val'),
        '--out',
        str(out),
        '--init',
        'scratch',
        '--no-freeze-backbone',
        '--input-size',
        '48',
        '--batch-size',
        '16',
        '--workers',
        '0',
        '--lr',
        '1e-3',
        '--lr-schedule',
        'cosine',
        '--rotation',
        '10',
    ]
    assert train.main(common + ['--epochs', '1']) == 0
    weights, meta = out.parent / 'tiny.v1.safetensors', out.parent / 'tiny.v1.json'
    history = json.loads((out.parent / 'tiny.v1.history.json').read_text())
    assert len(history['epochs']) == 1 and len(history['steps']) >= 1
    assert (out.parent / 'tiny.v1.history.png').stat().st_size > 1000
    assert (out.parent / 'tiny.v1.history.csv').read_text().startswith('epoch,')
    assert json.loads(meta.read_text())['class_names'] == sorted(CLASSES)

    # resume continues from the saved state instead of starting over
    assert train.main(common + ['--epochs', '2', '--resume']) == 0
    history = json.loads((out.parent / 'tiny.v1.history.json').read_text())
    assert [e['epoch'] for e in history['epochs']] == [1, 2]
    # the schedule follows --epochs: 1 epoch runs at --lr, the last of 2 at the 1% floor
    assert np.allclose([e['lr'] for e in history['epochs']], [1e-3, 1e-5])

    # the classifier node's own loading code takes the checkpoint
    clf = GlassClassifier(weights)
    probs = clf.predict([np.zeros((48, 48, 3), np.uint8), np.full((96, 96, 3), 200, np.uint8)])
    assert probs.shape == (2, 3) and np.allclose(probs.sum(1), 1.0, atol=1e-5)

    # --extra-data: real crops under a class, or a set of classes (a glass of unknown kind)
    extra = tmp_path / 'extra'
    for folder, cls in (('cup', 'cup'), ('beer_glass+soju_glass', 'soju_glass')):
        (extra / folder).mkdir(parents=True)
        for f in list((tmp_path / 'val' / cls).glob('*.png'))[:3]:
            (extra / folder / f.name).write_bytes(f.read_bytes())
    mixed = tmp_path / 'models' / 'mixed'
    assert train.main(common[:4] + ['--out', str(mixed)] + common[6:]
                      + ['--epochs', '1', '--extra-data', str(extra)]) == 0
    config = json.loads((tmp_path / 'models' / 'mixed.json').read_text())['training']['config']
    assert config['extra_data'] == [str(extra)]
    (extra / 'mug').mkdir()
    (extra / 'mug' / 'x.png').write_bytes(next((extra / 'cup').glob('*.png')).read_bytes())
    assert train.main(common[:4] + ['--out', str(mixed)] + common[6:]
                      + ['--epochs', '1', '--extra-data', str(extra)]) == 2

    report_base = tmp_path / 'report'
    assert (
        evaluate.main(
            ['--model', str(weights), '--data', str(tmp_path / 'val'), '--out', str(report_base)]
        )
        == 0
    )
    report = json.loads(report_base.with_suffix('.json').read_text())
    assert report['samples'] == sum(
        len(list((tmp_path / 'val' / c).glob('*.png'))) for c in CLASSES
    )
    assert set(report['per_class']) == set(CLASSES)
    assert np.asarray(report['confusion_matrix']).sum() == report['samples']
    assert report_base.with_suffix('.png').stat().st_size > 1000


def test_set_cross_entropy_is_cross_entropy_for_one_class_and_the_set_probability_else():
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]])
    one_hot = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert set_cross_entropy(logits, one_hot).item() == pytest.approx(
        torch.nn.functional.cross_entropy(logits, torch.tensor([1, 2])).item(), rel=1e-6
    )
    p = torch.softmax(logits, 1)
    either = torch.tensor([[1.0, 0.0, 1.0], [1.0, 0.0, 1.0]])
    want = -torch.log(p[:, 0] + p[:, 2]).mean()
    assert set_cross_entropy(logits, either).item() == pytest.approx(want.item(), rel=1e-6)
    # a set of every class costs nothing: it says nothing
    assert set_cross_entropy(logits, torch.ones(2, 3)).item() == pytest.approx(0.0, abs=1e-6)


def test_cosine_learning_rate_decays_from_lr_to_its_floor_and_constant_stays():
    cfg = TrainConfig(data=Path('d'), out=Path('o'), lr=1e-3, epochs=11, lr_schedule='cosine')
    lrs = [learning_rate(cfg, e) for e in range(11)]
    assert (
        lrs[0] == 1e-3
        and np.isclose(lrs[-1], 1e-3 * LR_FLOOR)
        and np.isclose(lrs[5], 1e-3 * (1 + LR_FLOOR) / 2)
    )
    assert all(a > b for a, b in zip(lrs, lrs[1:]))
    assert learning_rate(replace(cfg, lr_schedule='constant'), 7) == 1e-3
    with pytest.raises(ValueError, match='not one of'):
        learning_rate(replace(cfg, lr_schedule='step'), 0)


def test_training_offline_from_imagenet_says_what_to_do(tmp_path, capsys):
    synth.main(
        [
            'classify',
            '--out',
            str(tmp_path / 'd'),
            '--seed',
            '503',
            '--scenes',
            '4',
            '--crop-size',
            '32',
            '--renderer',
            'fast',
        ]
    )
    code = train.main(
        [
            '--data',
            str(tmp_path / 'd'),
            '--out',
            str(tmp_path / 'm'),
            '--init',
            'imagenet',
            '--epochs',
            '1',
            '--workers',
            '0',
            '--input-size',
            '32',
        ]
    )
    err = capsys.readouterr().err
    if code == 0:  # a connected machine downloaded the weights: that is the real path working
        return
    assert code == 2 and '--init scratch' in err


def test_crops_from_rendered_detection_scenes_match_a_direct_crop(tmp_path, capsys):
    """`glass-synth crops` cuts the glasses `detect` rendered, with the node's crop geometry."""
    import json

    import cv2
    from glass_perception.core.geometry import Box, square_crop
    from glass_perception.workflow.evaluation_detector import HEIGHT_BINS

    assert (
        synth.main(
            [
                'detect',
                '--out',
                str(tmp_path / 'det'),
                '--seed',
                '611',
                '--scenes',
                '6',
                '--split',
                'val',
                '--renderer',
                'fast',
            ]
        )
        == 0
    )
    assert (
        synth.main(
            [
                'crops',
                '--from',
                str(tmp_path / 'det'),
                '--split',
                'val',
                '--out',
                str(tmp_path / 'c'),
                '--box-jitter',
                '0',
            ]
        )
        == 0
    )
    truth = json.loads((tmp_path / 'det' / 'truth_val.json').read_text())
    want = [
        (stem, j, o)
        for stem, objs in truth.items()
        for j, o in enumerate(objs)
        if o['kind'] in CLASSES and o['visibility'] >= 0.6
    ]
    files = sorted((tmp_path / 'c').glob('*/*.png'))
    assert len(files) == len(want) > 0
    stem, j, o = want[0]
    image = cv2.imread(str(tmp_path / 'det' / 'images' / 'val' / f'{stem}.jpg'))
    crop = cv2.imread(str(tmp_path / 'c' / o['kind'] / f'{stem}_{j}.png'))
    assert (crop == square_crop(image, Box(*o['box']), 0.1, 96)).all()
    # crops.json says which glass each crop shows, and glass-evaluate breaks accuracy down by it
    manifest = json.loads((tmp_path / 'c' / 'crops.json').read_text())
    assert sorted(manifest) == sorted(f'{p.parent.name}/{p.name}' for p in files)
    entry = manifest[f'{o["kind"]}/{stem}_{j}.png']
    assert entry['variant'] == o['variant'] and entry['height_px'] == pytest.approx(o['box'][3])
    out = tmp_path / 'report'
    assert evaluate.main(['--data', str(tmp_path / 'c'), '--out', str(out)]) == 0
    report = json.loads(out.with_suffix('.json').read_text())
    assert set(report['by']) == {'family', 'height_px'}  # the classic truth has no distance
    for cells in report['by'].values():
        assert sum(c['samples'] for c in cells.values()) == report['samples'] == len(files)
        assert sum(c['right'] for c in cells.values()) == round(
            report['accuracy'] * report['samples']
        )
    bands = [f'{lo:g}-{hi:g}' for lo, hi in HEIGHT_BINS[:-1]] + [f'>={HEIGHT_BINS[-1][0]:g}']
    assert list(report['by']['height_px']) == [b for b in bands if b in report['by']['height_px']]
    variants = {v['variant'] for v in manifest.values()}
    assert {f.split('/')[1] for f in report['by']['family']} == variants
    assert 'by shape family' in capsys.readouterr().out
    (tmp_path / 'c' / 'crops.json').write_text('{"torn')
    assert evaluate.main(['--data', str(tmp_path / 'c'), '--out', str(out)]) == 2
    assert 'crops.json: not a crops manifest' in capsys.readouterr().err
    cut_again = ['crops', '--from', str(tmp_path / 'det'), '--split', 'val', '--out']
    assert synth.main([*cut_again, str(tmp_path / 'c')]) == 2  # nor does cutting into it
    assert 'crops.json: not a crops manifest' in capsys.readouterr().err
    assert (
        synth.main(['crops', '--from', str(tmp_path / 'nothing'), '--out', str(tmp_path / 'x')])
        == 2
    )


def test_crops_around_the_shipped_detectors_boxes(tmp_path, capsys):
    """`glass-synth crops --detector` cuts each glass around its detected box, as the node does."""
    import cv2
    from glass_perception.core.detector import Detector
    from glass_perception.core.geometry import Box, square_crop
    from glass_perception.core.params import DETECTOR

    assert (
        synth.main(
            [
                'detect',
                '--out',
                str(tmp_path / 'det'),
                '--seed',
                '612',
                '--scenes',
                '6',
                '--split',
                'val',
                '--renderer',
                'fast',
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        synth.main(
            [
                'crops',
                '--from',
                str(tmp_path / 'det'),
                '--split',
                'val',
                '--out',
                str(tmp_path / 'c'),
                '--detector',
                '',
            ]
        )
        == 0
    )
    counts = json.loads(capsys.readouterr().out.strip().splitlines()[-1])['crops']
    truth = json.loads((tmp_path / 'det' / 'truth_val.json').read_text())
    eligible = [
        (stem, j, o)
        for stem, objs in truth.items()
        for j, o in enumerate(objs)
        if o['kind'] in CLASSES and o['visibility'] >= 0.6
    ]
    files = sorted((tmp_path / 'c').glob('*/*.png'))
    assert files and all(f.name.endswith('_det.png') for f in files)
    assert len(files) == sum(counts[c] for c in CLASSES)
    assert len(files) + counts['missed_by_detector'] == len(eligible)
    imgsz = next(p.default for p in DETECTOR if p.name == 'imgsz')  # what crops --detector uses
    det = Detector('', imgsz=imgsz)
    stem, j, o = next(
        (s, j, o)
        for s, j, o in eligible
        if (tmp_path / 'c' / o['kind'] / f'{s}_{j}_det.png').exists()
    )
    image = cv2.imread(str(tmp_path / 'det' / 'images' / 'val' / f'{stem}.jpg'))
    crop = cv2.imread(str(tmp_path / 'c' / o['kind'] / f'{stem}_{j}_det.png'))
    near = [d.box for d in det.detect(image, 0.35, 0.5, 50) if d.box.iou(Box(*o['box'])) >= 0.5]
    assert any((crop == square_crop(image, b, 0.1, 96)).all() for b in near)
    assert (
        synth.main(
            [
                'crops',
                '--from',
                str(tmp_path / 'det'),
                '--split',
                'val',
                '--out',
                str(tmp_path / 'x'),
                '--detector',
                str(tmp_path / 'missing.pt'),
            ]
        )
        == 2
    )
    assert 'missing.pt' in capsys.readouterr().err


def test_detect_resumes_an_interrupted_render_and_refuses_other_settings(tmp_path):
    import json

    calls = []

    def counting(seed, index, width, height, kinds=None):
        from glass_perception.core.synthetic import render_scene

        calls.append(index)
        return render_scene(seed, index, width, height, kinds=kinds)

    from glass_perception.workflow.datasets import export_detection

    export_detection(
        tmp_path, 613, 3, 'train', 160, 120, renderer=counting, settings={'renderer': 't'}
    )
    export_detection(
        tmp_path, 613, 5, 'train', 160, 120, renderer=counting, settings={'renderer': 't'}
    )
    assert calls == [0, 1, 2, 3, 4]  # the second run only renders what is missing
    assert len(json.loads((tmp_path / 'truth_train.json').read_text())) == 5
    import pytest

    with pytest.raises(ValueError, match='rendered with'):
        export_detection(
            tmp_path, 613, 5, 'train', 320, 240, renderer=counting, settings={'renderer': 't'}
        )
