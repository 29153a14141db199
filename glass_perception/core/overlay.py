"""Drawing results on a frame for people (rviz2 Image display, saved demo frames). Pure OpenCV."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .geometry import Box

SAFE_BGR = (80, 200, 60)  # green
FRAGILE_BGR = (0, 90, 255)  # warning orange-red


@dataclass(frozen=True)
class Annotation:
    box: Box
    label: str
    score: float
    fragile: bool
    track_id: str = ''  # drawn beside the label


def draw(image: np.ndarray, annotations: list[Annotation], line_width: int = 2) -> np.ndarray:
    """
    Return a copy of ``image`` (BGR) with each box, its label and score drawn.

    Fragile ones are drawn in warning colour.
    """
    out = image.copy()
    scale = max(0.4, min(1.0, out.shape[0] / 800.0))
    h, w = out.shape[:2]
    for a in annotations:
        # clipped to one image size around the frame: what shows is the same, and the corners stay
        # within the int32 range OpenCV draws with (a finite box may still be 1e300 pixels wide)
        x0, y0, x1, y1 = (
            int(round(min(max(v, -size), 2 * size))) for v, size in zip(a.box.xyxy(), (w, h, w, h))
        )
        color = FRAGILE_BGR if a.fragile else SAFE_BGR
        cv2.rectangle(out, (x0, y0), (x1, y1), color, line_width)
        tag = f'[{a.track_id}] ' if a.track_id else ''
        text = f'{tag}{"FRAGILE " if a.fragile else ""}{a.label} {a.score:.2f}'
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        ty = y0 - 4 if y0 - th - base - 4 >= 0 else y1 + th + 4
        cv2.rectangle(out, (x0, ty - th - base), (x0 + tw + 4, ty + base), color, -1)
        cv2.putText(
            out,
            text,
            (x0 + 2, ty),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
    return out
