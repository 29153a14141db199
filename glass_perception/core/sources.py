"""Frame sources for the camera node: synthetic scenes, V4L2 devices, video files, image folders.

``open_source`` returns an object whose ``read()`` gives ``Frame`` or raises:
``EndOfSource`` when a file source is exhausted (and not looping), ``SourceError`` when a device or
file fails (the node reopens it with backoff). No ROS here.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .synthetic import SceneObject, render_scene

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


class SourceError(RuntimeError):
    pass


class EndOfSource(Exception):
    pass


@dataclass
class Frame:
    image: np.ndarray                           # BGR uint8
    truth: list[SceneObject] | None = None      # synthetic source only


def _fit(img: np.ndarray, width: int, height: int) -> np.ndarray:
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    if (width and height) and (img.shape[1] != width or img.shape[0] != height):
        img = cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)
    return img


class SyntheticSource:
    kind = "synthetic"

    def __init__(self, seed: int, width: int, height: int):
        self.seed, self.width, self.height = seed, width, height
        self.index = 0

    def read(self) -> Frame:
        scene = render_scene(self.seed, self.index, self.width, self.height)
        self.index += 1
        return Frame(scene.image, scene.objects)

    def close(self):
        pass


class CaptureSource:
    """A V4L2 device or a video file through OpenCV."""

    def __init__(self, target, width: int, height: int, loop: bool, is_device: bool):
        self.kind = "device" if is_device else "video"
        self.target, self.width, self.height, self.loop = target, width, height, loop
        self.cap = cv2.VideoCapture(target, cv2.CAP_V4L2) if is_device else cv2.VideoCapture(str(target))
        if not self.cap.isOpened():
            raise SourceError(f"cannot open {'device' if is_device else 'video'} {target}")
        if is_device:
            self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            self.cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)

    def read(self) -> Frame:
        ok, img = self.cap.read()
        if not ok and self.kind == "video":
            if not self.loop:
                raise EndOfSource(f"end of {self.target}")
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, img = self.cap.read()
        if not ok or img is None:
            raise SourceError(f"no frame from {self.target}")
        return Frame(_fit(img, self.width, self.height))

    def close(self):
        self.cap.release()


class FolderSource:
    kind = "images"

    def __init__(self, files: list[str], width: int, height: int, loop: bool, label: str):
        if not files:
            raise SourceError(f"no images in {label}")
        self.files, self.width, self.height, self.loop, self.label = files, width, height, loop, label
        self.index = 0

    def read(self) -> Frame:
        if self.index >= len(self.files):
            if not self.loop:
                raise EndOfSource(f"end of {self.label}")
            self.index = 0
        path = self.files[self.index]
        self.index += 1
        img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if img is None:
            raise SourceError(f"cannot read image {path}")
        if img.dtype != np.uint8:
            img = (img / 256).astype(np.uint8)
        return Frame(_fit(img, self.width, self.height))

    def close(self):
        pass


def open_source(spec: str, width: int, height: int, seed: int = 7, loop: bool = True):
    """Open what the camera node's ``source`` parameter names; raise SourceError if it cannot."""
    spec = spec.strip()
    if spec == "synthetic":
        return SyntheticSource(seed, width, height)
    if spec.isdigit():
        return CaptureSource(int(spec), width, height, loop, is_device=True)
    if spec.startswith("/dev/video"):
        if not os.path.exists(spec):
            raise SourceError(f"device {spec} does not exist")
        return CaptureSource(spec, width, height, loop, is_device=True)
    if any(ch in spec for ch in "*?["):
        files = sorted(f for f in glob.glob(os.path.expanduser(spec)) if Path(f).suffix.lower() in IMAGE_EXTENSIONS)
        return FolderSource(files, width, height, loop, spec)
    p = Path(os.path.expanduser(spec))
    if p.is_dir():
        files = sorted(str(f) for f in p.iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS)
        return FolderSource(files, width, height, loop, str(p))
    if p.is_file():
        if p.suffix.lower() in IMAGE_EXTENSIONS:
            return FolderSource([str(p)], width, height, loop, str(p))
        return CaptureSource(p, width, height, loop, is_device=False)
    raise SourceError(f"source '{spec}' is not 'synthetic', a device, a video file, an image folder or a glob")
