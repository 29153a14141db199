"""The object detector: an Ultralytics YOLO model behind a small interface. No ROS here.

``model`` is a path to weights (``.pt``; ``.onnx`` exported by Ultralytics), an Ultralytics model
name such as ``yolo11n.pt`` (downloaded on first use, on a connected machine), or empty for the
detector shipped with this package. Boxes come back in pixels of the image passed in, whatever
``imgsz`` the network runs at.

Note: ``.pt`` files are Python pickles: loading one can run code. Load only weights you trust.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .classifier import ModelLoadError, resolve_device
from .geometry import Box
from .paths import DEFAULT_DETECTOR



@dataclass(frozen=True)
class Detection:
    box: Box
    class_name: str
    score: float


def resolve_model_path(value: str, default: Path) -> tuple[str, bool]:
    """(what to load, whether it is a local file that must exist)."""
    value = (value or "").strip()
    if not value:
        return str(default), True
    p = Path(os.path.expanduser(value))
    local = p.exists() or p.parent != Path(".") or p.suffix not in (".pt", ".yaml", ".yml")
    return str(p), local


class Detector:
    def __init__(self, model: str = "", device: str = "cpu", imgsz: int = 320, warmup: bool = True):
        self.device = resolve_device(device)
        self.imgsz = imgsz
        source, local = resolve_model_path(model, DEFAULT_DETECTOR)
        if local:
            p = Path(source)
            if not p.is_file():
                raise ModelLoadError(f"{p}: detector weights not found; set 'model' to a .pt/.onnx file, "
                                     "an Ultralytics name such as yolo11n.pt, or '' for the shipped model")
            if p.stat().st_size == 0:
                raise ModelLoadError(f"{p}: detector weights file is empty")
        from ultralytics import YOLO

        try:
            self.model = YOLO(source, task="detect")
            if source.endswith(".pt"):
                self.model.to(self.device)
        except Exception as e:  # Ultralytics raises many types for a bad file or a failed download
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            hint = ("it is downloaded on first use, which needs internet; offline, give a local weights path"
                    if not local else "is it a YOLO detection model exported by Ultralytics?")
            raise ModelLoadError(f"{source}: cannot load detector ({reason}); {hint}") from e
        names = self.model.names
        self.class_names = [names[i] for i in sorted(names)] if isinstance(names, dict) else list(names)
        self.source = source
        if warmup:
            self.detect(np.zeros((imgsz, imgsz, 3), np.uint8), conf=0.5, iou=0.5, max_det=1)

    def detect(self, bgr: np.ndarray, conf: float, iou: float, max_det: int) -> list[Detection]:
        r = self.model.predict(bgr, conf=conf, iou=iou, imgsz=self.imgsz, max_det=max_det,
                               device=self.device, verbose=False)[0]
        boxes = r.boxes
        if boxes is None or len(boxes) == 0:
            return []
        xyxy = boxes.xyxy.cpu().numpy()
        cls = boxes.cls.cpu().numpy().astype(int)
        scores = boxes.conf.cpu().numpy()
        out = []
        for (x0, y0, x1, y1), c, s in zip(xyxy, cls, scores):
            box = Box.from_xyxy(x0, y0, x1, y1)
            if box.is_valid():
                out.append(Detection(box, self.class_names[c] if c < len(self.class_names) else str(c), float(s)))
        return out
