"""
Speed, size and memory of the classifier architectures on random input. No ROS here.

Every network is built by :func:`glass_perception.core.classifier.build_model`, with the same head
and class count as the shipped classifier, so what is measured is the network the classifier node
runs (with random weights: only its shape matters for speed and size).

Each model is measured in a fresh Python process (``python -m glass_perception.workflow.benchmark
--one NAME ...``), one model after another, so that its peak memory is its own: on CPU the growth
of the process's peak resident set (VmHWM) over its resident set after importing torch, on CUDA
``torch.cuda.max_memory_allocated``. The child prints one JSON line; :func:`compare` collects them.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import platform
import subprocess
import sys
import tempfile
import time

import torch

from .checkpoints import save_checkpoint
from .scoring import percentiles
from ..core.classifier import build_model
from ..core.classifier_meta import ARCHITECTURES, ClassifierMeta

DEFAULT_MODELS = ('mobilenet_v2', 'resnet50', 'vgg16')
REFERENCE_MODEL = 'mobilenet_v2'
REFERENCE_IMAGES = 600
# The seeds' figures: seconds to classify 600 images (their machine, their input size).
SEED_SECONDS_600 = {'vgg16': 170.0, 'resnet50': 59.0, 'mobilenet_v2': 15.0}
RESULT_PREFIX = 'GLASS_BENCHMARK_RESULT '


# ----------------------------------------------------------------------------------------- child
def _status_kib(field: str) -> int | None:
    """Read a ``/proc/self/status`` memory field (VmRSS, VmHWM) in KiB; None without /proc."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Set VmHWM back to the current RSS (Linux >= 4.0); False where that is not allowed."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def _peak_rss_kib() -> int:
    hwm = _status_kib('VmHWM')
    if hwm is not None:
        return hwm
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss // 1024 if sys.platform == 'darwin' else rss  # bytes on macOS, KiB on Linux


def _sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize(device)


def measure_one(
    architecture: str,
    input_size: int = 224,
    batch: int = 32,
    iters: int = 50,
    warmup: int = 5,
    batch_iters: int = 3,
    device: str = 'cpu',
    threads: int | None = None,
    head: str = 'dense128',
    num_classes: int | None = None,
) -> dict:
    """
    Measure one architecture in this process; meant to run in a fresh one (see :func:`compare`).

    Order matters: peak memory is read after build and inference and before the weights are saved,
    so the saving's buffers do not count.
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown model '{architecture}'; choose from {', '.join(ARCHITECTURES)}")
    if min(input_size, batch, iters, batch_iters) < 1 or warmup < 0:
        raise ValueError('input_size, batch, iters and batch_iters must be >= 1, warmup >= 0')
    # build_model imports it; keep it out of the model's memory
    import torchvision.models  # noqa: F401

    from ..core.synthetic import CLASSES

    class_names = sorted(CLASSES)  # as the shipped classifier has them
    num_classes = num_classes or len(class_names)
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    cuda = device.startswith('cuda')

    baseline_kib = _status_kib('VmRSS') or _peak_rss_kib()
    hwm_reset = _reset_peak_rss()
    if cuda:
        torch.cuda.init()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        cuda_baseline = torch.cuda.memory_allocated(device)

    t0 = time.perf_counter()
    model = build_model(architecture, num_classes, head).eval().to(device)
    build_s = time.perf_counter() - t0
    params = sum(p.numel() for p in model.parameters())

    x1 = torch.randn(1, 3, input_size, input_size, device=device)
    xb = torch.randn(batch, 3, input_size, input_size, device=device)
    latencies_ms = []
    with torch.inference_mode():
        for _ in range(warmup):
            model(x1)
        _sync(device)
        for _ in range(iters):
            t = time.perf_counter()
            model(x1)
            _sync(device)
            latencies_ms.append((time.perf_counter() - t) * 1000.0)
        peak_rss_batch1_kib = _peak_rss_kib()
        for _ in range(min(warmup, 1)):  # one warm-up at the large batch: new buffer sizes
            model(xb)
        _sync(device)
        t = time.perf_counter()
        for _ in range(batch_iters):
            model(xb)
        _sync(device)
        batch_s = time.perf_counter() - t

    peak_rss_mb = max(0, _peak_rss_kib() - baseline_kib) / 1024.0
    if cuda:
        peak_mb = (torch.cuda.max_memory_allocated(device) - cuda_baseline) / 2**20
        peak_kind = 'cuda_max_memory_allocated'
    else:
        peak_mb, peak_kind = peak_rss_mb, 'rss_growth'

    meta = ClassifierMeta(
        architecture=architecture, class_names=class_names, input_size=input_size, head=head
    )
    with tempfile.TemporaryDirectory(prefix='glass-benchmark-') as tmp:
        weights, _ = save_checkpoint(model, meta, Path(tmp) / architecture)
        file_bytes = weights.stat().st_size

    lat = percentiles(latencies_ms, (50, 95))
    mean_ms = sum(latencies_ms) / len(latencies_ms)
    return {
        'model': architecture,
        'head': head,
        'num_classes': num_classes,
        'params': params,
        'file_bytes': file_bytes,
        'file_mb': file_bytes / 2**20,
        'build_s': build_s,
        'latency_ms': {
            'p50': lat['p50'],
            'p95': lat['p95'],
            'mean': mean_ms,
            'min': min(latencies_ms),
            'max': lat['max'],
            'iters': iters,
            'warmup': warmup,
        },
        'throughput': {
            'batch': batch,
            'iters': batch_iters,
            'seconds': batch_s,
            'images_per_s': batch * batch_iters / batch_s,
        },
        'peak_memory_mb': peak_mb,
        'peak_memory_kind': peak_kind,
        'peak_rss_growth_mb': peak_rss_mb,
        'peak_rss_growth_batch1_mb': max(0, peak_rss_batch1_kib - baseline_kib) / 1024.0,
        'baseline_rss_mb': baseline_kib / 1024.0,
        'peak_rss_reset': hwm_reset,
        f'seconds_{REFERENCE_IMAGES}_images': mean_ms * REFERENCE_IMAGES / 1000.0,
        'torch_threads': torch.get_num_threads(),
    }


# ---------------------------------------------------------------------------------------- parent
def machine_info(device: str, threads: int | None) -> dict:
    import torchvision

    info = {
        'cpu_count': os.cpu_count(),
        'cpus_usable': len(os.sched_getaffinity(0))
        if hasattr(os, 'sched_getaffinity')
        else os.cpu_count(),
        'cpu_model': platform.processor() or platform.machine(),
        'platform': platform.platform(),
        'python': platform.python_version(),
        'torch': torch.__version__,
        'torchvision': torchvision.__version__,
        'device': device,
        'torch_threads': threads or torch.get_num_threads(),
        'torch_threads_requested': threads,
    }
    try:
        with open('/proc/cpuinfo') as f:
            info['cpu_model'] = next(
                line.split(':', 1)[1].strip() for line in f if line.startswith('model name')
            )
    except (OSError, StopIteration):
        pass
    if device.startswith('cuda'):
        info['device_name'] = torch.cuda.get_device_name(device)
    return info


def run_child(
    architecture: str,
    input_size: int,
    batch: int,
    iters: int,
    warmup: int,
    batch_iters: int,
    device: str,
    threads: int | None,
) -> dict:
    """
    Run :func:`measure_one` in a fresh interpreter.

    Raise RuntimeError with the child's last error line.
    """
    cmd = [
        sys.executable,
        '-m',
        'glass_perception.workflow.benchmark',
        '--one',
        architecture,
        '--input-size',
        str(input_size),
        '--batch',
        str(batch),
        '--iters',
        str(iters),
        '--warmup',
        str(warmup),
        '--batch-iters',
        str(batch_iters),
        '--device',
        device,
    ]
    if threads:
        cmd += ['--threads', str(threads)]
    env = dict(os.environ)
    root = str(
        Path(__file__).resolve().parents[2]
    )  # import this copy of the package, installed or not
    env['PYTHONPATH'] = root + (os.pathsep + env['PYTHONPATH'] if env.get('PYTHONPATH') else '')
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX) and proc.returncode == 0:
            return json.loads(line[len(RESULT_PREFIX):])
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    why = lines[-1].strip() if lines else f'exit code {proc.returncode}'
    if proc.returncode < 0:
        why = f'killed by signal {-proc.returncode} (out of memory?); {why}'
    raise RuntimeError(f'measuring {architecture} failed: {why}')


def compare(
    models=DEFAULT_MODELS,
    input_size: int = 224,
    batch: int = 32,
    iters: int = 50,
    warmup: int = 5,
    batch_iters: int = 3,
    device: str = 'cpu',
    threads: int | None = None,
    progress=None,
) -> dict:
    """
    Measure every model, one fresh process each, one after another; returns a JSON-ready dict.

    ``progress``: an optional callable wrapping the model list (e.g. tqdm) for a progress bar.
    """
    models = list(models)
    unknown = [m for m in models if m not in ARCHITECTURES]
    if unknown:
        raise ValueError(f"unknown model '{unknown[0]}'; choose from {', '.join(ARCHITECTURES)}")
    results = {}
    for name in progress(models) if progress else models:
        results[name] = run_child(
            name, input_size, batch, iters, warmup, batch_iters, device, threads
        )
    ref = results.get(REFERENCE_MODEL)
    for r in results.values():
        r[f'p50_vs_{REFERENCE_MODEL}'] = (
            r['latency_ms']['p50'] / ref['latency_ms']['p50'] if ref else None
        )
        r[f'seed_seconds_{REFERENCE_IMAGES}_images'] = SEED_SECONDS_600.get(r['model'])
    threads_used = next(iter(results.values()))['torch_threads'] if results else threads
    machine = machine_info(device, threads)
    machine['torch_threads'] = threads_used
    return {
        'format': 'glass_perception.compare_models',
        'machine': machine,
        'settings': {
            'input_size': input_size,
            'batch': batch,
            'iters': iters,
            'warmup': warmup,
            'batch_iters': batch_iters,
            'device': device,
            'threads': threads_used,
            'weights': (
                "random (torchvision architecture + the classifier's dense128 head, 3 classes)"
            ),
            'isolation': 'one fresh process per model, measured one after another',
        },
        'reference_model': REFERENCE_MODEL,
        'seed_reference': {
            'note': f"seconds for {REFERENCE_IMAGES} images on the seeds' machine",
            'seconds': SEED_SECONDS_600,
        },
        'models': results,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the child side: ``python -m glass_perception.workflow.benchmark --one NAME ...``."""
    p = argparse.ArgumentParser(description='measure one model (used by glass-compare-models)')
    p.add_argument('--one', required=True, metavar='NAME')
    p.add_argument('--input-size', type=int, default=224)
    p.add_argument('--batch', type=int, default=32)
    p.add_argument('--iters', type=int, default=50)
    p.add_argument('--warmup', type=int, default=5)
    p.add_argument('--batch-iters', type=int, default=3)
    p.add_argument('--device', default='cpu')
    p.add_argument('--threads', type=int, default=None)
    a = p.parse_args(argv)
    result = measure_one(
        a.one, a.input_size, a.batch, a.iters, a.warmup, a.batch_iters, a.device, a.threads
    )
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
