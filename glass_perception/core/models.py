"""
Opening the crop classifier by its file: ONNX Runtime for ``.onnx``, torch for a checkpoint.

No torch is imported for an ``.onnx`` model. No ROS here.
"""

from __future__ import annotations

from pathlib import Path


def open_classifier(
    path: Path | str, device: str = 'cpu', threads: int = 0, runtime: str = 'onnxruntime'
):
    """
    Return a classifier with ``class_names``, ``meta``, ``path`` and ``predict(crops)``.

    ``.onnx`` (with the checkpoint's ``.json`` beside it) runs in ONNX Runtime; a
    ``.safetensors``/``.json`` checkpoint in torch. Faults raise ModelLoadError naming the file.
    """
    path = Path(path)
    if path.suffix == '.onnx':
        from .device import resolve_onnx_device
        from .onnx_models import OnnxGlassClassifier

        from .onnx_models import resolve_runtime

        if resolve_runtime(runtime, device.strip().lower() or 'cpu') == 'onnxruntime':
            device = resolve_onnx_device(device, str(path))
        return OnnxGlassClassifier(path, device, threads, runtime)
    from .classifier import GlassClassifier
    from .cpu import set_threads

    classifier = GlassClassifier(path, device)
    set_threads(threads)  # torch is loaded now
    return classifier
