"""
Box and crop geometry, shared by the detector node and the training data.

Boxes are axis-aligned, in pixels of the *source* image, as (cx, cy, w, h) like vision_msgs'
BoundingBox2D. The classifier sees square crops: the box is grown by ``padding`` (a fraction of
its longer side, on every side) and widened to a square around its centre, so a tall pint keeps
its proportions instead of being squashed into the shape of a shot glass. Parts of the square that
fall outside the image are filled with a neutral grey, never shifted, so the object stays centred.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import cv2
import numpy as np

FILL_VALUE = 114  # the grey Ultralytics letterboxes with; neutral for the classifier too


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in source-image pixels: centre and size."""

    cx: float
    cy: float
    w: float
    h: float

    @classmethod
    def from_xyxy(cls, x0: float, y0: float, x1: float, y1: float) -> 'Box':
        x0, y0, x1, y1 = float(x0), float(y0), float(x1), float(y1)
        return cls((x0 + x1) / 2.0, (y0 + y1) / 2.0, x1 - x0, y1 - y0)

    def xyxy(self) -> tuple[float, float, float, float]:
        return (
            self.cx - self.w / 2.0,
            self.cy - self.h / 2.0,
            self.cx + self.w / 2.0,
            self.cy + self.h / 2.0,
        )

    def is_valid(self) -> bool:
        values = (self.cx, self.cy, self.w, self.h)
        return all(math.isfinite(v) for v in values) and self.w > 0 and self.h > 0

    def iou(self, other: 'Box') -> float:
        ax0, ay0, ax1, ay1 = self.xyxy()
        bx0, by0, bx1, by1 = other.xyxy()
        iw = max(0.0, min(ax1, bx1) - max(ax0, bx0))
        ih = max(0.0, min(ay1, by1) - max(ay0, by0))
        inter = iw * ih
        union = self.w * self.h + other.w * other.h - inter
        return inter / union if union > 0 else 0.0


def match_boxes(truth: list[Box], found: list[Box], min_iou: float = 0.5) -> list[int | None]:
    """Match greedily one-to-one by IoU: for each true box, the index of its found box, or None."""
    pairs = sorted(
        ((t.iou(f), i, k) for i, t in enumerate(truth) for k, f in enumerate(found)), reverse=True
    )
    match: list[int | None] = [None] * len(truth)
    used: set[int] = set()
    for iou, i, k in pairs:
        if iou < min_iou:
            break
        if match[i] is None and k not in used:
            match[i] = k
            used.add(k)
    return match


def square_region(box: Box, padding: float) -> tuple[int, int, int]:
    """
    Return the square (x0, y0, side) in source pixels that the crop of ``box`` covers.

    The side is the box's longer side grown by ``padding`` of it on each side, at least 1 pixel;
    the square is centred on the box centre and may extend past the image.
    """
    if not box.is_valid():
        raise ValueError(f'invalid box {box}')
    if not (0.0 <= padding <= 2.0):
        raise ValueError(f'padding must be within [0, 2], got {padding}')
    side = max(1, int(round(max(box.w, box.h) * (1.0 + 2.0 * padding))))
    x0 = int(math.floor(box.cx - side / 2.0 + 0.5))
    y0 = int(math.floor(box.cy - side / 2.0 + 0.5))
    return x0, y0, side


def square_crop(image: np.ndarray, box: Box, padding: float, size: int) -> np.ndarray:
    """Cut the padded square around ``box`` from ``image`` (HxWxC) and resize it to size x size."""
    if size < 8:
        raise ValueError(f'crop size must be at least 8, got {size}')
    x0, y0, side = square_region(box, padding)
    h, w = image.shape[:2]
    channels = image.shape[2] if image.ndim == 3 else 1
    canvas = np.full((side, side, channels), FILL_VALUE, dtype=image.dtype)
    sx0, sy0 = max(0, x0), max(0, y0)
    sx1, sy1 = min(w, x0 + side), min(h, y0 + side)
    if sx1 > sx0 and sy1 > sy0:
        src = image[sy0:sy1, sx0:sx1]
        canvas[sy0 - y0: sy1 - y0, sx0 - x0: sx1 - x0] = src.reshape(
            sy1 - sy0, sx1 - sx0, channels
        )
    interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    out = cv2.resize(canvas, (size, size), interpolation=interp)
    return out.reshape(size, size, channels) if channels == 1 else out


def stack_crops(crops: list[np.ndarray]) -> np.ndarray:
    """N square crops of equal size stacked top to bottom: an (N*size) x size image."""
    if not crops:
        raise ValueError('no crops to stack')
    size = crops[0].shape[0]
    for c in crops:
        if c.shape[0] != size or c.shape[1] != size:
            raise ValueError('crops must all be square and of one size')
    return np.ascontiguousarray(np.concatenate(crops, axis=0))


def unstack_crops(stacked: np.ndarray, count: int) -> list[np.ndarray]:
    """
    Split an image made by :func:`stack_crops` back into ``count`` crops.

    Raises ValueError when the image's shape does not hold exactly ``count`` square crops.
    """
    if count <= 0:
        raise ValueError(f'crop count must be positive, got {count}')
    h, w = stacked.shape[:2]
    if w <= 0 or h != count * w:
        raise ValueError(
            f'crops image is {w}x{h}: {count} square crops need height {count} x width'
        )
    return [stacked[i * w: (i + 1) * w] for i in range(count)]
