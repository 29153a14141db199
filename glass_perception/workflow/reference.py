"""
The converted pretrained networks against their originals, run by the originals' own code.

* YOLOv5n: the original runs in the ``yolov5`` package from PyPI (the YOLOv5 repository's code,
  packaged), loaded the way YOLOv5 loads it (a plain unpickling, done here only after the file's
  hash is the official one), followed by YOLOv5's own NMS; the converted model
  (``workflow.yolov5_training.coco_model``, all 80 classes) by Ultralytics' NMS, on the same
  letterboxed input. The ``yolov5`` package pins old libraries (``pkg_resources``, seaborn), so
  setup installs it without its dependencies into its own folder (``$GLASS_REFERENCE_DIR``,
  default ``<venv>/reference``), which is put on ``sys.path`` only for this check.
* MobileNetV2: the TFLite model runs in LiteRT's interpreter (``ai-edge-litert``), on uint8 RGB
  224x224; the converted float network on the same pixels scaled to [-1, 1].
"""

from __future__ import annotations

import os
from pathlib import Path
import sys

import cv2
import numpy as np

from . import pretrained
from ..core.geometry import Box


def reference_dir() -> Path:
    return Path(os.environ.get('GLASS_REFERENCE_DIR') or Path(sys.prefix) / 'reference')


def load_original_yolov5(path: Path | str):
    """Return the official checkpoint's own model, from the ``yolov5`` package (float, eval)."""
    import torch

    pretrained.check_sha256(path, pretrained.SHA256[pretrained.YOLOV5N])
    ref = str(reference_dir())
    if ref not in sys.path:
        sys.path.insert(0, ref)
    try:
        import yolov5.models
        import yolov5.models.common
        import yolov5.models.yolo
    except ImportError as e:
        raise ImportError(
            f'the yolov5 package (the original network) is not importable from {ref} ({e}); '
            'scripts/setup installs it there'
        ) from e
    # the checkpoint names its classes models.yolo.*, as in the YOLOv5 repository
    sys.modules.setdefault('models', yolov5.models)
    sys.modules.setdefault('models.yolo', yolov5.models.yolo)
    sys.modules.setdefault('models.common', yolov5.models.common)
    ckpt = torch.load(str(path), map_location='cpu', weights_only=False)
    return ckpt['model'].float().eval()


def compare_yolov5(path, files, imgsz: int = 640, conf: float = 0.25, iou: float = 0.45) -> dict:
    """Count the detections of the original and converted YOLOv5n on ``files`` that agree."""
    import torch
    from ultralytics.utils.nms import non_max_suppression as converted_nms

    from .yolov5_training import coco_model
    from ..core.onnx_models import letterbox

    original = load_original_yolov5(path)
    from yolov5.utils.general import non_max_suppression as original_nms

    converted = coco_model(pretrained.read_yolov5_checkpoint(path))
    totals = {'images': 0, 'original': 0, 'converted': 0, 'agree': 0}
    worst_iou, worst_score = 1.0, 0.0
    for f in files:
        image = cv2.imread(str(f), cv2.IMREAD_COLOR)
        if image is None:
            continue
        blob, _, _ = letterbox(image, (imgsz, imgsz))
        x = torch.from_numpy(blob)
        with torch.no_grad():
            a = original_nms(original(x)[0], conf, iou, max_det=300)[0].numpy()
            b = converted_nms(converted(x)[0], conf, iou, max_det=300)[0].numpy()
        totals['images'] += 1
        totals['original'] += len(a)
        totals['converted'] += len(b)
        used: set[int] = set()
        for da in a:
            best, best_iou = None, 0.0
            for k, db in enumerate(b):
                if k not in used and int(db[5]) == int(da[5]):
                    v = Box.from_xyxy(*da[:4]).iou(Box.from_xyxy(*db[:4]))
                    if v > best_iou:
                        best, best_iou = k, v
            if best is None:
                continue
            diff = abs(float(da[4]) - float(b[best][4]))
            if best_iou >= 0.9 and diff <= 0.01:
                used.add(best)
                totals['agree'] += 1
                worst_iou, worst_score = min(worst_iou, best_iou), max(worst_score, diff)
    return {**totals, 'worst_iou': worst_iou, 'worst_score': worst_score}


def compare_mobilenet(path, files) -> dict:
    """Top-1 ImageNet class of the TFLite model and the converted network, per image."""
    import torch
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    plain = pretrained.mobilenet_v2_imagenet(path, padding='torch')
    tf_padded = pretrained.mobilenet_v2_imagenet(path)
    totals = {'images': 0, 'agree_tf_padding': 0, 'agree_torch_padding': 0}
    for f in files:
        image = cv2.imread(str(f), cv2.IMREAD_COLOR)
        if image is None:
            continue
        rgb = cv2.resize(image, (224, 224), interpolation=cv2.INTER_AREA)[:, :, ::-1]
        rgb = np.ascontiguousarray(rgb)
        interpreter.set_tensor(inp['index'], rgb[None].astype(np.uint8))
        interpreter.invoke()
        want = int(np.argmax(interpreter.get_tensor(out['index'])[0]))
        x = torch.from_numpy(rgb.astype(np.float32) / 127.5 - 1.0).permute(2, 0, 1)[None]
        with torch.no_grad():
            totals['agree_tf_padding'] += int(tf_padded(x)[0].argmax()) == want
            totals['agree_torch_padding'] += int(plain(x)[0].argmax()) == want
        totals['images'] += 1
    return totals
