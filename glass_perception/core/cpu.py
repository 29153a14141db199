"""How many CPU threads a model node's inference may use."""

from __future__ import annotations

import sys


def set_threads(n: int) -> None:
    """
    Let OpenCV (and torch, where a node has loaded it) use ``n`` threads; 0 keeps their defaults.

    Two model nodes that each take every core fight over them: on a 2-core machine running the
    pipeline at 30 fps, one thread each lowered the latency p95 by a third (119 to 79 ms in 60 s
    soaks), and one thread is faster even for one model alone (docs/runtimes.md, "Speed on a few
    cores").
    ONNX Runtime sessions take the same number (``core.onnx_models.session``); torch is never
    imported here, so a node running ONNX models does without it.
    """
    if n > 0:
        import cv2

        cv2.setNumThreads(n)
        if 'torch' in sys.modules:
            sys.modules['torch'].set_num_threads(n)
