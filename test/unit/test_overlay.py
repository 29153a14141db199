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


def test_an_upright_glass_is_drawn_where_it_stands():
    from glass_perception.core.camera_model import Intrinsics
    from glass_perception.core.overlay import draw_upright

    camera = Intrinsics.from_k(640, 480, [606.0, 0, 319.5, 0, 606.0, 239.5, 0, 0, 1])
    image = np.zeros((480, 640, 3), np.uint8)
    base, up = np.array([0.0, 0.1, 0.6]), np.array([0.0, -1.0, 0.0])
    out = draw_upright(image, camera, base, up, 0.12, 0.08, 'cup 0.61 m', flagged=False)
    assert out is image
    u, v = camera.project(base[None])[0]
    # the cross at the base and the foot's ellipse around it, the rim 12 cm up
    assert image[int(round(v)), int(round(u))].any()
    rim_v = camera.project((base + 0.12 * up)[None])[0][1]
    assert image[int(rim_v) - 3: int(rim_v) + 4, :].any()
    assert not image[: int(rim_v) - 40, : int(u) - 60].any()  # nothing far from it
    behind = np.zeros_like(image)
    draw_upright(behind, camera, np.array([0.0, 0.0, -0.5]), up, 0.1, 0.05, 'x')
    assert not behind.any()  # behind the camera: nothing
