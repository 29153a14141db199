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


def draw_upright(
    image: np.ndarray,
    camera,
    base: np.ndarray,
    axis: np.ndarray,
    height: float,
    diameter: float,
    text: str,
    flagged: bool = False,
    line_width: int = 2,
) -> np.ndarray:
    """
    Draw, in place, an upright cylinder standing at ``base`` (optical frame, m) and return image.

    ``camera`` is a core.camera_model.Intrinsics of the image. The foot and the rim as ellipses,
    the axis, a cross at the base and ``text`` beside the rim: what the localizer says is there,
    to be seen against what the image shows. Flagged estimates in warning colour.
    """
    axis = np.asarray(axis, float)
    away = np.asarray(base, float) - (np.asarray(base, float) @ axis) * axis
    if np.linalg.norm(away) < 1e-9:
        away = np.array([1.0, 0.0, 0.0]) - axis[0] * axis
    away /= np.linalg.norm(away)
    side = np.cross(axis, away)
    theta = np.linspace(0.0, 2.0 * np.pi, 33)
    ring = np.outer(np.cos(theta), away) + np.outer(np.sin(theta), side)
    colour = FRAGILE_BGR if flagged else SAFE_BGR
    rims = []
    for lift in (0.0, height):
        pts = np.asarray(base) + lift * axis + diameter / 2.0 * ring
        if np.any(pts[:, 2] <= 0.01):
            return image  # behind the camera: nothing to draw
        uv = np.round(camera.project(pts)).astype(np.int32)
        rims.append(uv)
        cv2.polylines(image, [uv.reshape(-1, 1, 2)], True, colour, line_width, cv2.LINE_AA)
    ends = np.round(camera.project(np.stack([base, base + height * axis]))).astype(int)
    cv2.line(image, tuple(map(int, ends[0])), tuple(map(int, ends[1])), colour, 1, cv2.LINE_AA)
    cv2.drawMarker(image, tuple(map(int, ends[0])), colour, cv2.MARKER_CROSS, 12, line_width)
    scale = max(0.4, min(1.0, image.shape[0] / 800.0))
    x, y = int(rims[1][:, 0].max()) + 4, int(rims[1][:, 1].min()) + 12
    for k, line in enumerate(text.split('\n')):
        cv2.putText(
            image, line, (x, y + int(22 * scale) * k), cv2.FONT_HERSHEY_SIMPLEX, scale,
            colour, 1 if scale < 0.6 else 2, cv2.LINE_AA,
        )  # fmt: skip
    return image
