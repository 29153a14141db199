"""
The object detector: a YOLO model behind a small interface. No ROS here.

An ``.onnx`` model runs in ONNX Runtime alone (``core.onnx_models``: no torch, no Ultralytics);
a ``.pt`` model runs in Ultralytics.

``model`` is a path to weights (``.pt``; ``.onnx`` exported by Ultralytics, see
glass-export-detector), an Ultralytics model name such as ``yolo11n.pt`` (downloaded on first use,
on a connected machine), or empty for the detector shipped with this package. Boxes come back in
pixels of the image passed in, whatever ``imgsz`` the network runs at.

Note: ``.pt`` files are Python pickles: loading one can run code. Load only weights you trust. An
``.onnx`` file is a graph and its weights: loading it cannot run code.
"""

from __future__ import annotations

import ast
from contextlib import contextmanager
from dataclasses import dataclass
import os
from pathlib import Path
import re

import numpy as np

from .device import resolve_device, resolve_onnx_device
from .errors import ModelLoadError
from .geometry import Box
from .paths import DEFAULT_DETECTOR

FORMATS = ('.pt', '.onnx')


@dataclass(frozen=True)
class Detection:
    box: Box
    class_name: str
    score: float


def resolve_model_path(value: str, default: Path) -> tuple[str, bool]:
    """Return (what to load, whether it is a local file that must exist)."""
    value = (value or '').strip()
    if not value:
        return str(default), True
    p = Path(os.path.expanduser(value))
    local = p.exists() or p.parent != Path('.') or p.suffix not in ('.pt', '.yaml', '.yml')
    return str(p), local


def onnx_detector_info(path: Path) -> tuple[list[str], tuple[int, int] | None]:
    """
    Read the class names and fixed input size of an Ultralytics ONNX detector.

    The size is (height, width), None when dynamic. Reads the file's metadata only; raises
    ModelLoadError naming the file for anything else.
    """
    try:
        import onnx

        # onnxruntime is checked here, so that Ultralytics never tries to pip-install it
        import onnxruntime  # noqa: F401
    except ImportError as e:
        raise ModelLoadError(
            f'{path}: an ONNX detector needs the onnx and onnxruntime packages ({e}); '
            'pip install onnx onnxruntime, or give a .pt'
        ) from e
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # protobuf DecodeError and friends
        raise ModelLoadError(
            f'{path}: not a readable ONNX model (truncated or corrupt: {short_reason(e)}); '
            're-export it with glass-export-detector'
        ) from e
    meta = {p.key: p.value for p in proto.metadata_props}
    if 'task' not in meta or 'names' not in meta:
        raise ModelLoadError(
            f'{path}: ONNX model without Ultralytics metadata (task, names): truncated, or not '
            'exported by Ultralytics; export a YOLO detector with glass-export-detector'
        )
    if meta['task'] != 'detect':
        raise ModelLoadError(
            f"{path}: a YOLO '{meta['task']}' model, not a detection model; "
            'export a YOLO detection model with glass-export-detector'
        )
    try:
        names = ast.literal_eval(
            meta['names']
        )  # literals only: a dict such as {0: 'cup', 1: 'wine glass'}
        names = (
            [str(names[i]) for i in sorted(names)]
            if isinstance(names, dict)
            else [str(n) for n in names]
        )
    except (ValueError, SyntaxError, TypeError) as e:
        raise ModelLoadError(
            f'{path}: unreadable class names in the ONNX metadata ({e}); re-export it'
        ) from e
    dims = proto.graph.input[0].type.tensor_type.shape.dim if proto.graph.input else []
    hw = tuple(d.dim_value for d in dims[2:4]) if len(dims) == 4 else ()
    return names, (hw if len(hw) == 2 and min(hw) > 0 else None)


class Detector:
    def __init__(
        self,
        model: str = '',
        device: str = 'cpu',
        imgsz: int = 320,
        warmup: bool = True,
        threads: int = 0,
        runtime: str = 'onnxruntime',
    ):
        self.imgsz: int | tuple[int, int] = imgsz
        # what the node should log: e.g. the ONNX model's own input size was used
        self.notes: list[str] = []
        source, local = resolve_model_path(model, DEFAULT_DETECTOR)
        is_onnx = source.lower().endswith('.onnx')
        self.device = resolve_onnx_device(device, source) if is_onnx else resolve_device(device)
        if local:
            _check_weights_file(Path(source))
        if is_onnx:
            self.class_names, fixed = onnx_detector_info(Path(source))
            if fixed and fixed != (imgsz, imgsz):
                self.imgsz = fixed[0] if fixed[0] == fixed[1] else fixed
                self.notes.append(
                    f'{source} has a fixed input size of {fixed[0]}x{fixed[1]}: '
                    'running at that size, '
                    f'not imgsz {imgsz} (export it with imgsz={imgsz} to change that)'
                )
        self.source = source
        if is_onnx:  # ONNX Runtime alone: neither torch nor Ultralytics is imported
            from .onnx_models import OnnxYolo

            size = self.imgsz if isinstance(self.imgsz, tuple) else (self.imgsz, self.imgsz)
            self.model = OnnxYolo(
                source, size, self.device, threads, dynamic=fixed is None, runtime=runtime
            )
            try:
                self.detect(np.zeros(size + (3,), np.uint8), conf=0.5, iou=0.5, max_det=1)
            except Exception as e:  # a graph that opens but does not run: fail now, not later
                raise ModelLoadError(
                    f'{source}: cannot run the ONNX detector ({short_reason(e)}); '
                    'is it a YOLO detection model exported by Ultralytics? re-export it'
                ) from e
            return
        from ultralytics import YOLO

        try:
            with no_autoinstall():
                self.model = YOLO(source, task='detect' if is_onnx else None)
                if not is_onnx:
                    if self.model.task != 'detect':
                        raise ModelLoadError(
                            f"{source}: a YOLO '{self.model.task}' model, not a detection model; "
                            'give a YOLO detection model (.pt or .onnx)'
                        )
                    self.model.to(self.device)
                    names = self.model.names
                    self.class_names = (
                        [names[i] for i in sorted(names)]
                        if isinstance(names, dict)
                        else list(names)
                    )
                # an exported model is opened by its first prediction: do that here, so a bad
                # file fails now
                if warmup:
                    h, w = (
                        self.imgsz if isinstance(self.imgsz, tuple) else (self.imgsz, self.imgsz)
                    )
                    self.detect(np.zeros((h, w, 3), np.uint8), conf=0.5, iou=0.5, max_det=1)
        except ModelLoadError:
            raise
        except Exception as e:  # Ultralytics raises many types for a bad file or a failed download
            hint = (
                (
                    'it is downloaded on first use, which needs internet; '
                    'offline, give a local weights path'
                )
                if not local
                else (
                    'is it a YOLO detection model exported by Ultralytics? re-export or replace it'
                )
            )
            raise ModelLoadError(
                f'{source}: cannot load detector ({short_reason(e, source)}); {hint}'
            ) from e
        self.source = source

    @property
    def runtime(self) -> str:
        """Return what runs the model: onnxruntime, openvino or ultralytics (a .pt)."""
        return getattr(self.model, 'runtime', 'ultralytics')

    def detect(self, bgr: np.ndarray, conf: float, iou: float, max_det: int) -> list[Detection]:
        """Return the objects in a BGR image, boxes in its pixels, best first."""
        if not hasattr(self.model, 'predict'):  # OnnxYolo
            found = self.model.detect(bgr, conf, iou, max_det)
            return self.model.as_detections(found, self.class_names, Detection)
        r = self.model.predict(
            bgr,
            conf=conf,
            iou=iou,
            imgsz=self.imgsz,
            max_det=max_det,
            device=self.device,
            verbose=False,
        )[0]
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
                out.append(
                    Detection(
                        box, self.class_names[c] if c < len(self.class_names) else str(c), float(s)
                    )
                )
        return out


def _check_weights_file(p: Path) -> None:
    if not p.is_file():
        raise ModelLoadError(
            f"{p}: detector weights not found; set 'model' to a .pt/.onnx file, "
            "an Ultralytics name such as yolo11n.pt, or '' for the shipped model"
        )
    if p.suffix.lower() not in FORMATS:
        hint = (
            " (a .safetensors checkpoint is the classifier's 'model')"
            if p.suffix == '.safetensors'
            else ''
        )
        raise ModelLoadError(
            f'{p}: detector weights must be a .pt or .onnx file exported by Ultralytics{hint}'
        )
    if p.stat().st_size == 0:
        raise ModelLoadError(f'{p}: detector weights file is empty')


@contextmanager
def no_autoinstall():
    """
    Turn Ultralytics' auto-install off while a model is opened.

    Ultralytics pip-installs what a model asks for (a module a pickle names, onnxruntime-gpu, ...)
    unless YOLO_AUTOINSTALL is off. A robot must never do that at start-up.
    """
    from ultralytics.utils import checks

    old = checks.AUTOINSTALL
    checks.AUTOINSTALL = False
    try:
        yield
    finally:
        checks.AUTOINSTALL = old


def short_reason(e: BaseException, source: str = '') -> str:
    """Return an exception as one short line, without Ultralytics' 'ERROR ❌️ <path>' prefix."""
    text = str(e).strip()
    line = text.splitlines()[0].strip() if text else type(e).__name__
    line = re.sub(r'^ERROR\s*[^\w\s/.~]*\s*', '', line)
    if source and line.startswith(source):
        line = line[len(source):].strip()
    return line if len(line) <= 200 else line[:197] + '...'
