"""
Inference backends compared on the same frames: the torch path, ONNX Runtime, OpenVINO.

Each backend runs in a fresh process (``python -m glass_perception.workflow.runtime_benchmark
BACKEND FRAMES``), so import cost and resident memory are its own: it loads the shipped
detector and classifier, then times the detector on the shipped RGB-D frames and the classifier
on their crops, one thread each as the nodes run. It prints one JSON line: start-up (process
start to the first classified frame), resident memory after start-up and at the end, and the
per-frame work time p50/p95 of each model.
"""

from __future__ import annotations

import json
import sys
import time

BACKENDS = ('torch', 'onnxruntime', 'openvino')


def _rss_mib() -> float:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024.0
    return float('nan')


def run(backend: str, frames: int, started: float) -> dict:
    from ..core.cpu import set_threads
    from ..core.detector import Detector
    from ..core.geometry import square_crop
    from ..core.models import open_classifier
    from ..core.params import default, DETECTOR
    from ..core.paths import (
        DEFAULT_CLASSIFIER,
        DEFAULT_CLASSIFIER_CHECKPOINT,
        DEFAULT_DETECTOR,
        DEFAULT_DETECTOR_WEIGHTS,
    )
    from ..core.sources import open_source
    from .scoring import percentiles

    set_threads(1)
    if backend == 'torch':
        det = Detector(str(DEFAULT_DETECTOR_WEIGHTS), 'cpu', 480, threads=1)
        clf = open_classifier(DEFAULT_CLASSIFIER_CHECKPOINT, 'cpu', 1)
        detect = det.detect
    elif backend == 'onnxruntime':
        det = Detector(str(DEFAULT_DETECTOR), 'cpu', 480, threads=1, runtime='onnxruntime')
        clf = open_classifier(DEFAULT_CLASSIFIER, 'cpu', 1, runtime='onnxruntime')
        detect = det.detect
    else:
        det = Detector(str(DEFAULT_DETECTOR), 'cpu', 480, threads=1, runtime='openvino')
        clf = open_classifier(DEFAULT_CLASSIFIER, 'cpu', 1, runtime='openvino')
        detect = det.detect
    source = open_source('synthetic', 640, 480)
    det_ms, clf_ms = [], []
    first = None
    for i in range(frames):
        image = source.read().image
        t0 = time.perf_counter()
        found = detect(image, *(default(DETECTOR, k) for k in ('conf', 'iou', 'max_det')))
        t1 = time.perf_counter()
        crops = [square_crop(image, d.box, 0.1, 96) for d in found[:6]]
        if crops:
            clf.predict(crops)
        t2 = time.perf_counter()
        if first is None:
            first = time.time() - started
            rss_start = _rss_mib()
        if i >= 3:  # warm-up
            det_ms.append(1000 * (t1 - t0))
            clf_ms.append(1000 * (t2 - t1))
    return {
        'backend': backend,
        'startup_s': first,
        'rss_mib_after_start': rss_start,
        'rss_mib_end': _rss_mib(),
        'detector_ms': percentiles(det_ms),
        'classifier_ms': percentiles(clf_ms),
        'torch_imported': 'torch' in sys.modules,
    }


if __name__ == '__main__':
    print(json.dumps(run(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))))
