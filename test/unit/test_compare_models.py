"""
glass-compare-models measures the classifier's own networks, in one run, and writes its reports.

Tiny settings (32x32 input, a handful of passes): what is checked is the report, never the speed.
"""

from __future__ import annotations

import csv
import json

from glass_perception.core.classifier import build_model
from glass_perception.tools import compare_models
import pytest

MODELS = ('mobilenet_v2', 'resnet50')


def test_compare_models_writes_json_csv_png_for_every_model(tmp_path, capsys):
    out = tmp_path / 'cmp' / 'models'
    assert (
        compare_models.main(
            [
                '--models',
                *MODELS,
                '--input-size',
                '32',
                '--batch',
                '2',
                '--iters',
                '3',
                '--warmup',
                '1',
                '--batch-iters',
                '1',
                '--threads',
                '1',
                '--out',
                str(out),
            ]
        )
        == 0
    )

    report = json.loads((tmp_path / 'cmp' / 'models.json').read_text())
    assert list(report['models']) == list(MODELS)
    assert report['settings']['input_size'] == 32 and report['settings']['batch'] == 2
    assert report['machine']['torch_threads'] == 1 and report['machine']['cpu_count'] >= 1
    assert report['machine']['torch'] and report['machine']['device'] == 'cpu'
    for name, r in report['models'].items():
        # the very network the classifier builds: same backbone, head and class count
        assert r['params'] == sum(p.numel() for p in build_model(name, 3).parameters()), name
        assert r['file_bytes'] >= 4 * r['params'] > 0  # float32 safetensors
        lat = r['latency_ms']
        assert 0 < lat['min'] <= lat['p50'] <= lat['p95'] <= lat['max'] and lat['mean'] > 0
        assert lat['iters'] == 3
        assert r['throughput']['batch'] == 2 and r['throughput']['images_per_s'] > 0
        assert r['peak_memory_mb'] > 0 and r['peak_memory_kind'] == 'rss_growth'
        assert r['seconds_600_images'] == pytest.approx(lat['mean'] * 600 / 1000)
        assert r['torch_threads'] == 1
    assert report['models']['mobilenet_v2']['p50_vs_mobilenet_v2'] == pytest.approx(1.0)
    assert report['models']['resnet50']['p50_vs_mobilenet_v2'] > 0

    rows = list(csv.DictReader((tmp_path / 'cmp' / 'models.csv').open()))
    assert (
        (tmp_path / 'cmp' / 'models.csv')
        .read_text()
        .startswith('model,params,file_bytes,latency_p50_ms,')
    )
    assert [r['model'] for r in rows] == list(MODELS)
    assert int(rows[1]['params']) == report['models']['resnet50']['params']

    png = tmp_path / 'cmp' / 'models.png'
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and png.stat().st_size > 10_000

    printed = capsys.readouterr().out
    header = next(line for line in printed.splitlines() if line.startswith('model'))
    for column in (
        'params M',
        'file MB',
        'p50 ms',
        'p95 ms',
        'batch-2 img/s',
        'peak MB',
        'x MobileNetV2',
        '600 images s',
    ):
        assert column in header
    assert all(any(line.startswith(m + ' ') for line in printed.splitlines()) for m in MODELS)


def test_unknown_model_or_device_exits_2_with_one_line(tmp_path, capsys):
    assert (
        compare_models.main(['--models', 'mobilenet_v2', 'alexnet', '--out', str(tmp_path / 'x')])
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'alexnet' in err and 'mobilenet_v2' in err
    assert compare_models.main(['--device', 'tpu', '--out', str(tmp_path / 'x')]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'tpu' in err
    assert not list(tmp_path.iterdir())  # nothing measured, nothing written
