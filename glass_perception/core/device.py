"""
Which device a model runs on: checked names, and what an ONNX model needs for CUDA.

No ROS here.
"""

from __future__ import annotations

from .errors import ModelLoadError


def resolve_device(name: str) -> str:
    """Check a device name ('cpu', 'cuda', 'cuda:N'); raise ValueError with what is available."""
    name = (name or 'cpu').strip().lower()
    if name == 'cpu':
        return 'cpu'
    if name == 'cuda' or (name.startswith('cuda:') and name[5:].isdigit()):
        import torch

        if not torch.cuda.is_available():
            raise ValueError(
                f"device '{name}' requested but CUDA is not available here; use 'cpu'"
            )
        index = int(name.split(':')[1]) if ':' in name else 0
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"device '{name}' does not exist: {torch.cuda.device_count()} CUDA device(s)"
            )
        return f'cuda:{index}'
    raise ValueError(f"device '{name}' is not one of cpu, cuda, cuda:N")


def check_onnx_device(source: str, device: str) -> None:
    """
    Raise ModelLoadError naming ``source`` for a CUDA ``device`` if onnxruntime has no CUDA.

    That is, when CUDAExecutionProvider is not among onnxruntime's available providers.
    """
    import onnxruntime

    if (
        device.startswith('cuda')
        and 'CUDAExecutionProvider' not in onnxruntime.get_available_providers()
    ):
        raise ModelLoadError(
            f"{source}: device '{device}' needs onnxruntime-gpu for an ONNX model, and the "
            'installed onnxruntime runs on the CPU only; '
            'pip install onnxruntime-gpu, or use device cpu'
        )


def resolve_onnx_device(name: str, source: str) -> str:
    """Check a device name for an ONNX model through onnxruntime's providers (torch not used)."""
    name = (name or 'cpu').strip().lower()
    if name not in ('cpu', 'cuda') and not (name.startswith('cuda:') and name[5:].isdigit()):
        raise ValueError(f"device '{name}' is not one of cpu, cuda, cuda:N")
    check_onnx_device(source, name)
    return 'cuda:0' if name == 'cuda' else name
