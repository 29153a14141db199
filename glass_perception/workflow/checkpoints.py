"""
Making classifier checkpoints: ImageNet-initialised networks, frozen backbones, atomic saves.

The robot loads checkpoints with ``glass_perception.core.classifier``; only training and
benchmarking write them, so this lives in the workflow.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from ..core.atomic import atomic_path, atomic_write_text
from ..core.classifier import build_model, checkpoint_paths, HEAD_MODULE
from ..core.classifier_meta import ARCHITECTURES, ClassifierMeta, FORMAT


def imagenet_weights(architecture: str):
    """
    Return torchvision's ImageNet weights enum for ``architecture``.

    The weights are downloaded when a model is built with it.
    """
    import torchvision.models as tvm

    return {
        'mobilenet_v2': tvm.MobileNet_V2_Weights.IMAGENET1K_V1,
        'resnet50': tvm.ResNet50_Weights.IMAGENET1K_V2,
        'vgg16': tvm.VGG16_Weights.IMAGENET1K_V1,
    }[architecture]


def pretrained_model(architecture: str, num_classes: int, head: str = 'dense128') -> nn.Module:
    """
    ``build_model`` on torchvision's ImageNet weights, downloaded on first use.

    That works on a connected machine only; offline it raises a RuntimeError saying what to do
    instead.
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f'unknown architecture {architecture}')
    try:
        return build_model(architecture, num_classes, head, weights=imagenet_weights(architecture))
    except Exception as e:  # URLError, HTTPError, OSError: whatever the download raised
        raise RuntimeError(
            f"could not get torchvision's ImageNet weights for {architecture} "
            f'({type(e).__name__}: {e}). '
            'They are downloaded on first use and need internet; offline, train from scratch '
            '(--init scratch) or start from a checkpoint of this project (--init PATH.safetensors)'
        ) from e


def backbone_parameters(model: nn.Module, architecture: str):
    """Return the parameters that a frozen-backbone training leaves alone."""
    head = HEAD_MODULE[architecture]
    return [p for name, p in model.named_parameters() if not name.startswith(head + '.')]


def save_checkpoint(model: nn.Module, meta: ClassifierMeta, path: Path | str) -> tuple[Path, Path]:
    """Write weights then metadata, each atomically; returns both paths."""
    from safetensors.torch import save_file

    weights, meta_path = checkpoint_paths(path)
    state = {k: v.detach().to('cpu').contiguous() for k, v in model.state_dict().items()}
    with atomic_path(weights) as tmp:
        save_file(state, str(tmp), metadata={'format': FORMAT, 'architecture': meta.architecture})
    atomic_write_text(meta_path, meta.to_json())
    return weights, meta_path
