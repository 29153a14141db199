"""
glass-compare-models: speed, size and memory of the classifier architectures on random input.

Builds each network exactly as the classifier does (torchvision backbone + the dense128 head,
3 classes, random weights) and measures, one fresh process per model, one after another:
parameters, safetensors file size, latency p50/p95 at batch 1 after warm-up, throughput at
--batch, and peak memory (CPU: resident-set growth; CUDA: max memory allocated). Writes
OUT.json, OUT.csv and OUT.png and prints a table.

  glass-compare-models --out work/compare/compare_models
  glass-compare-models --input-size 96 --models mobilenet_v2 resnet50 --iters 100 --threads 1
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path
import sys

PROG = 'glass-compare-models'


def build_parser() -> argparse.ArgumentParser:
    from ..workflow.benchmark import DEFAULT_MODELS

    p = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        '--models',
        nargs='+',
        default=list(DEFAULT_MODELS),
        metavar='NAME',
        help=f'architectures to measure (default: {" ".join(DEFAULT_MODELS)})',
    )
    p.add_argument(
        '--input-size',
        type=int,
        default=224,
        help='square input side in pixels (default 224; the shipped classifier uses 96)',
    )
    p.add_argument(
        '--batch', type=int, default=32, help='batch size of the throughput test (default 32)'
    )
    p.add_argument(
        '--iters', type=int, default=50, help='timed batch-1 forward passes per model (default 50)'
    )
    p.add_argument(
        '--warmup', type=int, default=5, help='untimed batch-1 passes before timing (default 5)'
    )
    p.add_argument(
        '--batch-iters', type=int, default=3, help='timed passes at --batch (default 3)'
    )
    p.add_argument('--device', default='cpu', help='cpu, cuda or cuda:N (default cpu)')
    p.add_argument(
        '--threads',
        type=int,
        default=None,
        help="torch intra-op threads (default: torch's default, recorded in the results)",
    )
    p.add_argument(
        '--out',
        type=Path,
        default=Path('compare_models'),
        metavar='PREFIX',
        help='writes PREFIX.json, PREFIX.csv and PREFIX.png (default: compare_models)',
    )
    return p


COLUMNS = (
    'model',
    'params M',
    'file MB',
    'p50 ms',
    'p95 ms',
    'batch-{b} img/s',
    'peak MB',
    'x MobileNetV2',
    '600 images s',
)


def table_rows(report: dict) -> list[list[str]]:
    from ..workflow.benchmark import REFERENCE_IMAGES, REFERENCE_MODEL

    rows = []
    for name, r in report['models'].items():
        ratio = r[f'p50_vs_{REFERENCE_MODEL}']
        rows.append(
            [
                name,
                f'{r["params"] / 1e6:.2f}',
                f'{r["file_mb"]:.1f}',
                f'{r["latency_ms"]["p50"]:.1f}',
                f'{r["latency_ms"]["p95"]:.1f}',
                f'{r["throughput"]["images_per_s"]:.1f}',
                f'{r["peak_memory_mb"]:.0f}',
                '-' if ratio is None else f'{ratio:.1f}',
                f'{r[f"seconds_{REFERENCE_IMAGES}_images"]:.1f}',
            ]
        )
    return rows


def format_table(report: dict) -> str:
    header = [c.format(b=report['settings']['batch']) for c in COLUMNS]
    rows = table_rows(report)
    widths = [max(len(x) for x in col) for col in zip(header, *rows)]

    def line(cells):
        return '  '.join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        )

    return '\n'.join([line(header), line(['-' * w for w in widths])] + [line(r) for r in rows])


def to_csv(report: dict) -> str:
    from ..workflow.benchmark import REFERENCE_IMAGES, REFERENCE_MODEL

    fields = [
        'model',
        'params',
        'file_bytes',
        'latency_p50_ms',
        'latency_p95_ms',
        'latency_mean_ms',
        'batch',
        'throughput_images_per_s',
        'peak_memory_mb',
        'peak_memory_kind',
        f'p50_vs_{REFERENCE_MODEL}',
        f'seconds_{REFERENCE_IMAGES}_images',
        f'seed_seconds_{REFERENCE_IMAGES}_images',
        'input_size',
        'device',
        'torch_threads',
    ]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator='\n')
    w.writeheader()
    s = report['settings']
    for name, r in report['models'].items():
        w.writerow(
            {
                'model': name,
                'params': r['params'],
                'file_bytes': r['file_bytes'],
                'latency_p50_ms': f'{r["latency_ms"]["p50"]:.3f}',
                'latency_p95_ms': f'{r["latency_ms"]["p95"]:.3f}',
                'latency_mean_ms': f'{r["latency_ms"]["mean"]:.3f}',
                'batch': r['throughput']['batch'],
                'throughput_images_per_s': f'{r["throughput"]["images_per_s"]:.3f}',
                'peak_memory_mb': f'{r["peak_memory_mb"]:.1f}',
                'peak_memory_kind': r['peak_memory_kind'],
                f'p50_vs_{REFERENCE_MODEL}': ''
                if r[f'p50_vs_{REFERENCE_MODEL}'] is None
                else f'{r[f"p50_vs_{REFERENCE_MODEL}"]:.3f}',
                f'seconds_{REFERENCE_IMAGES}_images': (
                    f'{r[f"seconds_{REFERENCE_IMAGES}_images"]:.2f}'
                ),
                f'seed_seconds_{REFERENCE_IMAGES}_images': r[
                    f'seed_seconds_{REFERENCE_IMAGES}_images'
                ]
                or '',
                'input_size': s['input_size'],
                'device': s['device'],
                'torch_threads': r['torch_threads'],
            }
        )
    return buf.getvalue()


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np

    from ..core.atomic import atomic_path

    names = list(report['models'])
    rs = [report['models'][n] for n in names]
    x = np.arange(len(names))
    s, m = report['settings'], report['machine']
    p50 = [r['latency_ms']['p50'] for r in rs]
    p95 = [r['latency_ms']['p95'] for r in rs]
    fig, ax = plt.subplots(2, 2, figsize=(11, 8))
    panels = [
        (ax[0, 0], p50, 'ms', 'latency at batch 1 (p50, whisker to p95)'),
        (
            ax[0, 1],
            [r['throughput']['images_per_s'] for r in rs],
            'images/s',
            f'throughput at batch {s["batch"]}',
        ),
        (
            ax[1, 0],
            [r['peak_memory_mb'] for r in rs],
            'MB',
            'peak memory ('
            + ('CUDA max allocated' if str(s['device']).startswith('cuda') else 'RSS growth')
            + ')',
        ),
        (ax[1, 1], [r['params'] / 1e6 for r in rs], 'million', 'parameters'),
    ]
    colors = plt.rcParams['axes.prop_cycle'].by_key()['color']
    for i, (a, values, unit, title) in enumerate(panels):
        yerr = None
        if i == 0:
            yerr = np.array([[0.0] * len(names), [max(0.0, hi - lo) for lo, hi in zip(p50, p95)]])
        bars = a.bar(
            x,
            values,
            color=[colors[k % len(colors)] for k in range(len(names))],
            yerr=yerr,
            capsize=6,
        )
        a.bar_label(
            bars,
            labels=[f'{v:.0f}' if v >= 100 else f'{v:.3g}' for v in values],
            padding=2,
            fontsize=8,
        )
        a.set(xticks=x, xticklabels=names, ylabel=unit, title=title)
        a.margins(y=0.15)
    fig.suptitle(
        f'{len(names)} models, {s["input_size"]}x{s["input_size"]} random input, {s["device"]}, '
        f'{m["torch_threads"]} threads, {m["cpu_count"]} CPUs, torch {m["torch"]}'
    )
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format='png', dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tqdm import tqdm

    from ..core.atomic import atomic_write_text
    from ..core.classifier_meta import ARCHITECTURES
    from ..core.device import resolve_device
    from ..workflow.benchmark import compare, REFERENCE_IMAGES

    unknown = [m for m in args.models if m not in ARCHITECTURES]
    if unknown:
        print(
            f"{PROG}: unknown model '{unknown[0]}'; choose from {', '.join(ARCHITECTURES)}",
            file=sys.stderr,
        )
        return 2
    if (
        min(args.input_size, args.batch, args.iters, args.batch_iters) < 1
        or args.warmup < 0
        or (args.threads is not None and args.threads < 1)
    ):
        print(
            f'{PROG}: --input-size, --batch, --iters, --batch-iters and --threads must be >= 1, '
            f'--warmup >= 0',
            file=sys.stderr,
        )
        return 2
    try:
        device = resolve_device(args.device)
    except ValueError as e:
        print(f'{PROG}: {e}', file=sys.stderr)
        return 2

    models = list(dict.fromkeys(args.models))  # once each, in the order given
    bar = None

    def progress(items):
        nonlocal bar
        bar = tqdm(items, desc='measuring', unit='model')
        for name in bar:
            bar.set_postfix_str(name)
            yield name

    try:
        report = compare(
            models,
            args.input_size,
            args.batch,
            args.iters,
            args.warmup,
            args.batch_iters,
            device,
            args.threads,
            progress=progress,
        )
    except RuntimeError as e:
        if bar is not None:
            bar.close()
        print(f'{PROG}: {e}', file=sys.stderr)
        return 1

    out = args.out
    atomic_write_text(Path(f'{out}.json'), json.dumps(report, indent=2))
    atomic_write_text(Path(f'{out}.csv'), to_csv(report))
    plot(report, Path(f'{out}.png'))

    m, s = report['machine'], report['settings']
    print(
        f'{s["input_size"]}x{s["input_size"]} random input on {device} '
        f'({m["cpu_model"]}, {m["cpu_count"]} CPUs, '
        f'{m["torch_threads"]} torch threads, torch {m["torch"]}); '
        f'batch-1 latency over {s["iters"]} passes '
        f'after {s["warmup"]} warm-up, throughput over {s["batch_iters"]} passes of {s["batch"]}'
    )
    print(format_table(report))
    seeds = report['seed_reference']['seconds']
    print(
        f"seeds' {REFERENCE_IMAGES} images: "
        + ', '.join(f'{k} {v:.0f} s' for k, v in seeds.items())
        + '; peak MB = '
        + ('CUDA max allocated' if device.startswith('cuda') else 'resident-set growth')
        + ' of a fresh process per model'
    )
    print(f'wrote {out}.json, {out}.csv and {out}.png')
    return 0


if __name__ == '__main__':
    sys.exit(main())
