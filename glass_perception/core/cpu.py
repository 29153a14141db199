"""How many CPU threads a model node's inference may use."""

from __future__ import annotations


def set_threads(n: int) -> None:
    """
    Let torch (intra-op) and OpenCV use ``n`` threads; 0 keeps their defaults (one per core).

    Two model nodes that each take every core fight over them: on a 2-core machine running the
    pipeline at 30 fps, one thread each lowered the latency p95 by a third (119 to 79 ms in 60 s
    soaks), and one thread is faster even for one model alone (README, "Speed on a few cores").
    """
    if n > 0:
        import cv2
        import torch

        torch.set_num_threads(n)
        cv2.setNumThreads(n)
