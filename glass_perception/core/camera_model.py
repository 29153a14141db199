"""
Pinhole intrinsics from sensor_msgs/CameraInfo or its YAML, and rays through pixels.

Pixel coordinates follow ROS and OpenCV: the centre of pixel (i, j) is at (i, j), so a box edge
at ``x`` in the detector's continuous coordinates (pixel i spans [i, i + 1]) is at ``x - 0.5``.
Distortion (plumb_bob / rational_polynomial, as camera drivers report it) is undone with OpenCV;
aligned depth from a RealSense has none. No ROS here.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import cv2
import numpy as np
import yaml

DISTORTION_MODELS = ('plumb_bob', 'rational_polynomial', 'equidistant', '')


class CameraModelError(ValueError):
    """A calibration that cannot be used; the message says which value and why."""


@dataclass(frozen=True)
class Intrinsics:
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    distortion_model: str = 'plumb_bob'
    d: tuple[float, ...] = ()

    @classmethod
    def from_k(cls, width, height, k, distortion_model='plumb_bob', d=()) -> 'Intrinsics':
        """Build from a row-major 3x3 K; raise CameraModelError for zero, NaN or skewed values."""
        k = [float(v) for v in k]
        if len(k) != 9:
            raise CameraModelError(f'K has {len(k)} values, not 9')
        if not all(math.isfinite(v) for v in k):
            raise CameraModelError('K holds NaN or inf (an uncalibrated camera_info?)')
        fx, fy, cx, cy = k[0], k[4], k[2], k[5]
        if fx <= 0 or fy <= 0:
            raise CameraModelError(f'K has fx={fx:g}, fy={fy:g}: an uncalibrated camera_info')
        if int(width) <= 0 or int(height) <= 0:
            raise CameraModelError(f'image size {width}x{height}')
        d = tuple(float(v) for v in d)
        if not all(math.isfinite(v) for v in d):
            raise CameraModelError('distortion coefficients hold NaN or inf')
        if distortion_model not in DISTORTION_MODELS:
            raise CameraModelError(
                f"distortion model '{distortion_model}' is not one of "
                f'{", ".join(m for m in DISTORTION_MODELS if m)}'
            )
        return cls(int(width), int(height), fx, fy, cx, cy, distortion_model, d)

    @classmethod
    def from_camera_info(cls, msg) -> 'Intrinsics':
        """Build from a sensor_msgs/CameraInfo (its k, d, distortion_model, width, height)."""
        return cls.from_k(msg.width, msg.height, msg.k, msg.distortion_model, msg.d)

    @property
    def distorted(self) -> bool:
        """Tell whether pixels must be undistorted before they become rays."""
        return any(abs(v) > 1e-12 for v in self.d)

    def matrix(self) -> np.ndarray:
        """Return K as a 3x3 array."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def rays(self, u, v) -> np.ndarray:
        """Return the ray (x/z, y/z, 1) through each pixel (index coordinates), shape (N, 3)."""
        u = np.atleast_1d(np.asarray(u, np.float64))
        v = np.atleast_1d(np.asarray(v, np.float64))
        if not len(u):  # (OpenCV's undistortPoints returns None for no points)
            return np.zeros((0, 3))
        if self.distorted and self.distortion_model != 'equidistant':
            pts = np.stack([u, v], axis=1).reshape(-1, 1, 2)
            norm = cv2.undistortPoints(pts, self.matrix(), np.asarray(self.d)).reshape(-1, 2)
        elif self.distorted:
            pts = np.stack([u, v], axis=1).reshape(-1, 1, 2)
            norm = cv2.fisheye.undistortPoints(pts, self.matrix(), np.asarray(self.d[:4]))
            norm = norm.reshape(-1, 2)
        else:
            norm = np.stack([(u - self.cx) / self.fx, (v - self.cy) / self.fy], axis=1)
        return np.concatenate([norm, np.ones((len(norm), 1))], axis=1)

    def project(self, points: np.ndarray) -> np.ndarray:
        """Return pixel (u, v) index coordinates of points (N, 3) in the optical frame."""
        p = np.atleast_2d(np.asarray(points, np.float64))
        if self.distorted and self.distortion_model != 'equidistant':
            uv, _ = cv2.projectPoints(
                p, np.zeros(3), np.zeros(3), self.matrix(), np.asarray(self.d)
            )
            return uv.reshape(-1, 2)
        return np.stack(
            [self.fx * p[:, 0] / p[:, 2] + self.cx, self.fy * p[:, 1] / p[:, 2] + self.cy], axis=1
        )

    def scaled(self, width: int, height: int) -> 'Intrinsics':
        """Return the intrinsics of the same camera with its images resized to width x height."""
        sx, sy = width / self.width, height / self.height
        return Intrinsics(
            width,
            height,
            self.fx * sx,
            self.fy * sy,
            (self.cx + 0.5) * sx - 0.5,
            (self.cy + 0.5) * sy - 0.5,
            self.distortion_model,
            self.d,
        )


def _matrix(doc: dict, key: str, rows: int, cols: int) -> list[float]:
    entry = doc.get(key)
    if not isinstance(entry, dict) or 'data' not in entry:
        raise CameraModelError(f"no '{key}' with rows, cols and data")
    data = entry['data']
    if not isinstance(data, list) or len(data) != rows * cols:
        raise CameraModelError(f"'{key}' must hold {rows * cols} numbers")
    try:
        return [float(v) for v in data]
    except (TypeError, ValueError) as e:
        raise CameraModelError(f"'{key}' holds a value that is not a number") from e


def parse_camera_info_yaml(text: str) -> dict:
    """
    Read a camera_calibration_parsers YAML; return its fields (k, d, r, p, size, model, name).

    Raise CameraModelError naming the missing or malformed key.
    """
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise CameraModelError(f'not YAML ({e.__class__.__name__})') from e
    if not isinstance(doc, dict):
        raise CameraModelError('not a camera_calibration_parsers YAML mapping')
    for key in ('image_width', 'image_height'):
        if not isinstance(doc.get(key), int):
            raise CameraModelError(f"no integer '{key}'")
    d_entry = doc.get('distortion_coefficients') or {}
    d = d_entry.get('data', []) if isinstance(d_entry, dict) else None
    if not isinstance(d, list):
        raise CameraModelError("'distortion_coefficients' must have a data list")
    out = {
        'width': doc['image_width'],
        'height': doc['image_height'],
        'camera_name': str(doc.get('camera_name', '')),
        'k': _matrix(doc, 'camera_matrix', 3, 3),
        'distortion_model': str(doc.get('distortion_model', 'plumb_bob')),
        'd': [float(v) for v in d],
        'r': _matrix(doc, 'rectification_matrix', 3, 3),
        'p': _matrix(doc, 'projection_matrix', 3, 4),
    }
    Intrinsics.from_k(out['width'], out['height'], out['k'], out['distortion_model'], out['d'])
    return out
