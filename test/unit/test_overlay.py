"""core.overlay.draw: boxes of any finite size are drawn, clipped, without OpenCV overflowing."""

from __future__ import annotations

from glass_perception.core.geometry import Box
from glass_perception.core.overlay import Annotation, draw
import numpy as np


def test_huge_and_ordinary_boxes_are_drawn():
    image = np.zeros((48, 64, 3), np.uint8)
    out = draw(
        image,
        [
            Annotation(Box(32, 24, 1e300, 1e300), 'cup', 0.9, False),
            Annotation(Box(20, 20, 10, 10), 'beer_glass', 0.8, True),
        ],
    )
    assert out.shape == image.shape and out.any() and not image.any()
