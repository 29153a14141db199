"""
Torch-free inference with ONNX Runtime: the YOLO detector and the crop classifier. No ROS here.

A robot that only runs inference needs neither torch nor Ultralytics for ONNX models: this module
imports numpy, OpenCV and onnxruntime only. The stages are those of Ultralytics' predictor,
written out: ``letterbox`` (the image scaled into the network's square, padded with grey 114, as
Ultralytics' LetterBox with auto=False), the network, then the decoding of its (4 + classes) x N
output, class-aware non-maximum suppression by OpenCV (``cv2.dnn.NMSBoxesBatched``) and the boxes
mapped back to the source image's pixels. The classifier's preprocessing is
``core.classifier.preprocess`` in numpy (resize, RGB, ImageNet mean and std), then a softmax.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .errors import ModelLoadError
from .geometry import Box

LETTERBOX_GREY = 114
RUNTIMES = ('auto', 'onnxruntime', 'openvino')


def session(path: Path | str, device: str = 'cpu', threads: int = 0):
    """Open an ONNX Runtime session on ``device``; raise ModelLoadError naming the file."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads > 0:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    providers = ['CPUExecutionProvider']
    if device.startswith('cuda'):
        index = int(device.split(':')[1]) if ':' in device else 0
        providers.insert(0, ('CUDAExecutionProvider', {'device_id': index}))
    try:
        return ort.InferenceSession(str(path), options, providers=providers)
    except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph/... types
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelLoadError(f'{path}: ONNX Runtime cannot open it ({first[:160]})') from e


def resolve_runtime(runtime: str, device: str = 'cpu') -> str:
    """
    Return what ``auto`` means: openvino on the CPU where it is installed, else onnxruntime.

    OpenVINO ran the detector 2.3 times as fast as ONNX Runtime on the project's CPU (bfloat16)
    and as fast where it computes in float32 (glass-benchmark-runtime); on CUDA, ONNX Runtime.
    """
    if runtime != 'auto':
        return runtime
    import importlib.util

    have_openvino = importlib.util.find_spec('openvino') is not None
    return 'openvino' if device == 'cpu' and have_openvino else 'onnxruntime'


def runner(path: Path | str, runtime: str = 'onnxruntime', device: str = 'cpu', threads: int = 0):
    """
    Return a function running the ONNX model at ``path``: NCHW float32 batch -> first output.

    ``onnxruntime`` (CPU or CUDA) is the default; ``openvino`` (CPU; bfloat16 where the CPU has
    it, which is what makes it faster on such CPUs) is the alternative. Faults raise
    ModelLoadError naming the file.
    """
    if runtime not in RUNTIMES:
        raise ModelLoadError(f"{path}: runtime '{runtime}' is not one of {', '.join(RUNTIMES)}")
    runtime = resolve_runtime(runtime, device)
    if runtime == 'onnxruntime':
        sess = session(path, device, threads)
        name = sess.get_inputs()[0].name
        return lambda blob: sess.run(None, {name: blob})[0]
    if device != 'cpu':
        raise ModelLoadError(f"{path}: the openvino runtime runs on the CPU here, not '{device}'")
    try:
        import openvino as ov
    except ImportError as e:
        raise ModelLoadError(
            f'{path}: runtime openvino needs the openvino package ({e}); pip install openvino, '
            'or use runtime onnxruntime'
        ) from e
    core = ov.Core()
    if threads > 0:
        core.set_property('CPU', {'INFERENCE_NUM_THREADS': int(threads)})
    try:
        compiled = core.compile_model(str(path), 'CPU')
    except Exception as e:  # OpenVINO raises RuntimeError subclasses of its own
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelLoadError(f'{path}: OpenVINO cannot compile it ({first[:160]})') from e
    return lambda blob: compiled(blob)[0]


def letterbox(bgr: np.ndarray, size: tuple[int, int], stride: int = 0):
    """
    Return (NCHW RGB float blob in [0, 1], scale, (pad x, pad y)) for a network of (h, w).

    With ``stride`` (a model with a dynamic input), the padding is only what makes each side a
    multiple of it, as Ultralytics does for its own models (LetterBox auto=True): a 640x480
    frame at 480 becomes 480x384, not 480x480.
    """
    h0, w0 = bgr.shape[:2]
    h, w = size
    r = min(h / h0, w / w0)
    nw, nh = max(1, int(round(w0 * r))), max(1, int(round(h0 * r)))  # a 4000x2 strip too
    dw, dh = float(w - nw), float(h - nh)
    if stride:
        dw, dh = float(np.mod(dw, stride)), float(np.mod(dh, stride))
    dw, dh = dw / 2.0, dh / 2.0
    img = bgr
    if (nw, nh) != (w0, h0):
        img = cv2.resize(bgr, (nw, nh), interpolation=cv2.INTER_LINEAR)
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    img = cv2.copyMakeBorder(
        img, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(LETTERBOX_GREY,) * 3
    )
    blob = img[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255.0
    return np.ascontiguousarray(blob), r, (left, top)


def decode_yolo(
    output: np.ndarray,
    conf: float,
    iou: float,
    max_det: int,
    scale: float,
    pad: tuple[float, float],
    image_size: tuple[int, int],
) -> list[tuple[tuple[float, float, float, float], int, float]]:
    """
    Turn a YOLO head's (1, 4 + classes, N) output into ((x0, y0, x1, y1), class, score).

    Candidates below ``conf`` are dropped, the rest go through class-aware NMS at ``iou``; the
    ``max_det`` best are kept, in source-image pixels clipped to the image (h, w).
    """
    pred = output[0].T  # (N, 4 + classes): cx, cy, w, h in network pixels, then class scores
    scores_all = pred[:, 4:]
    cls = scores_all.argmax(axis=1)
    scores = scores_all[np.arange(len(pred)), cls]
    keep = scores > conf
    if not keep.any():
        return []
    xywh, cls, scores = pred[keep, :4], cls[keep], scores[keep]
    tl = xywh[:, :2] - xywh[:, 2:] / 2.0
    rects = np.concatenate([tl, xywh[:, 2:]], axis=1).astype(np.float64)
    idx = cv2.dnn.NMSBoxesBatched(rects.tolist(), scores.tolist(), cls.tolist(), conf, iou)
    idx = np.asarray(idx, int).reshape(-1)
    idx = idx[np.argsort(-scores[idx], kind='stable')][:max_det]
    h, w = image_size
    out = []
    for i in idx:
        x0 = (rects[i, 0] - pad[0]) / scale
        y0 = (rects[i, 1] - pad[1]) / scale
        x1 = (rects[i, 0] + rects[i, 2] - pad[0]) / scale
        y1 = (rects[i, 1] + rects[i, 3] - pad[1]) / scale
        box = (
            float(np.clip(x0, 0, w)),
            float(np.clip(y0, 0, h)),
            float(np.clip(x1, 0, w)),
            float(np.clip(y1, 0, h)),
        )
        out.append((box, int(cls[i]), float(scores[i])))
    return out


class OnnxYolo:
    """An Ultralytics YOLO detector exported to ONNX, run by ONNX Runtime alone."""

    def __init__(
        self,
        path: Path | str,
        size: tuple[int, int],
        device: str = 'cpu',
        threads: int = 0,
        dynamic: bool = False,
        runtime: str = 'onnxruntime',
    ):
        self.path = Path(path)
        self.runtime = resolve_runtime(runtime, device)
        self.run = runner(path, self.runtime, device, threads)
        self.size = size
        self.stride = 32 if dynamic else 0  # YOLO's largest stride

    def detect(self, bgr: np.ndarray, conf: float, iou: float, max_det: int):
        """Return ((x0, y0, x1, y1), class index, score) of the objects, best first."""
        blob, scale, pad = letterbox(bgr, self.size, self.stride)
        output = np.asarray(self.run(blob))
        return decode_yolo(output, conf, iou, max_det, scale, pad, bgr.shape[:2])

    @staticmethod
    def as_detections(found, class_names, detection_type) -> list:
        out = []
        for (x0, y0, x1, y1), c, s in found:
            box = Box.from_xyxy(x0, y0, x1, y1)
            if box.is_valid():
                name = class_names[c] if c < len(class_names) else str(c)
                out.append(detection_type(box, name, s))
        return out


def preprocess(crops: list[np.ndarray], meta) -> np.ndarray:
    """Return BGR uint8 crops as the classifier's normalised NCHW float32 batch (numpy)."""
    size = meta.input_size
    batch = np.empty((len(crops), size, size, 3), np.float32)
    for i, c in enumerate(crops):
        if c.shape[0] != size or c.shape[1] != size:
            interp = cv2.INTER_AREA if c.shape[0] > size else cv2.INTER_LINEAR
            c = cv2.resize(c, (size, size), interpolation=interp)
        batch[i] = c[..., ::-1] if meta.channel_order == 'rgb' else c
    batch /= 255.0
    batch -= np.asarray(meta.mean, np.float32)
    batch /= np.asarray(meta.std, np.float32)
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class OnnxGlassClassifier:
    """A classifier checkpoint exported to ONNX: ``<stem>.onnx`` with ``<stem>.json`` beside it."""

    def __init__(
        self, path: Path | str, device: str = 'cpu', threads: int = 0, runtime='onnxruntime'
    ):
        from .classifier_meta import ClassifierMeta

        self.path = Path(path)
        meta_path = self.path.with_suffix('.json')
        for f in (self.path, meta_path):
            if not f.is_file():
                raise ModelLoadError(
                    f'{f}: file not found; an ONNX classifier is a .onnx file with the .json '
                    'of its checkpoint beside it (glass-export-classifier writes both)'
                )
            if f.stat().st_size == 0:
                raise ModelLoadError(f'{f}: file is empty')
        self.meta = ClassifierMeta.from_json(meta_path.read_text(errors='replace'), meta_path)
        self.device = device
        self.runtime = resolve_runtime(runtime, device)
        self.run = runner(self.path, self.runtime, device, threads)
        try:  # a graph that opens but does not run fails now, not on the first frame
            probe = np.asarray(self.run(preprocess([np.zeros((8, 8, 3), np.uint8)], self.meta)))
        except Exception as e:
            raise ModelLoadError(f'{self.path}: the classifier does not run ({e})'[:300]) from e
        if probe.ndim != 2 or probe.shape[1] != len(self.meta.class_names):
            raise ModelLoadError(
                f'{self.path}: its output {list(probe.shape)} does not fit the '
                f'{len(self.meta.class_names)} class_names of {meta_path.name}'
            )

    optimised = False

    @property
    def class_names(self) -> list[str]:
        return self.meta.class_names

    def predict(self, crops: list[np.ndarray]) -> np.ndarray:
        """Return probabilities, shape (N, classes), rows summing to 1."""
        if not crops:
            return np.zeros((0, len(self.class_names)), np.float32)
        logits = np.asarray(self.run(preprocess(crops, self.meta)))
        return softmax(logits.astype(np.float64)).astype(np.float32)
