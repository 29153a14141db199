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


def _torchvision_cached(architecture: str) -> bool:
    """Whether torchvision's ImageNet weights for ``architecture`` are in torch's hub cache."""
    from pathlib import Path

    import torch.hub

    url = imagenet_weights(architecture).url
    return (Path(torch.hub.get_dir()) / 'checkpoints' / Path(url).name).is_file()


def pretrained_model(architecture: str, num_classes: int, head: str = 'dense128'):
    """
    ``build_model`` on ImageNet weights: (network, what its input is, where the weights came from).

    torchvision's weights when they are in torch's cache; else, for MobileNetV2, the offline
    TFLite copy when one is found (``workflow.pretrained``: ``$GLASS_PRETRAINED_DIR`` or
    ``shared/weights``; inputs in [-1, 1], so mean and std are 0.5, and TensorFlow's padding);
    else torchvision's download (a connected machine). What its input is, ``{'mean', 'std',
    'padding'}`` for [0, 1] RGB, goes into the checkpoint's metadata. Offline with nothing
    found, RuntimeError says what to do.
    """
    from . import pretrained
    from ..core.classifier_meta import IMAGENET_MEAN, IMAGENET_STD

    if architecture not in ARCHITECTURES:
        raise ValueError(f'unknown architecture {architecture}')
    tflite = None
    if architecture == 'mobilenet_v2' and not _torchvision_cached(architecture):
        tflite = pretrained.find_pretrained(pretrained.MOBILENET_V2_TFLITE)
    if tflite is not None:
        model = build_model(architecture, num_classes, head, padding='tf_same')
        state = pretrained.read_mobilenet_v2_tflite(tflite)
        features = {k: v for k, v in state.items() if k.startswith('features.')}
        result = model.load_state_dict(features, strict=False)
        unset = [k for k in result.missing_keys if k.startswith('features.')]
        if unset or result.unexpected_keys:
            raise RuntimeError(f'{tflite}: did not fill {unset[:3]} {result.unexpected_keys[:3]}')
        given = {
            'mean': list(pretrained.IMAGENET_TFLITE_MEAN),
            'std': list(pretrained.IMAGENET_TFLITE_STD),
            'padding': 'tf_same',
        }
        return model, given, f'{tflite} (TFLite, dequantised)'
    try:
        weights = imagenet_weights(architecture)
        model = build_model(architecture, num_classes, head, weights=weights)
    except Exception as e:  # URLError, HTTPError, OSError: whatever the download raised
        raise RuntimeError(
            f"could not get torchvision's ImageNet weights for {architecture} "
            f'({type(e).__name__}: {e}). '
            'They are downloaded on first use and need internet; offline, MobileNetV2 starts from '
            f'{pretrained.MOBILENET_V2_TFLITE} in $GLASS_PRETRAINED_DIR, or train from scratch '
            '(--init scratch) or from a checkpoint of this project (--init PATH.safetensors)'
        ) from e
    given = {'mean': list(IMAGENET_MEAN), 'std': list(IMAGENET_STD), 'padding': 'torch'}
    return model, given, f'torchvision {imagenet_weights(architecture)}'


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
