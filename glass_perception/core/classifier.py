"""
The glass classifier: network, checkpoint format and batched inference. No ROS here.

Checkpoint = two files with one stem: ``<stem>.safetensors`` (tensors only, no pickle, so loading
a checkpoint cannot run code) and ``<stem>.json`` (metadata)::

    {"format": "glass_perception.classifier", "format_version": 1,
     "architecture": "mobilenet_v2", "head": "dense128",
     "class_names": ["cup", "beer_glass", "soju_glass"],
     "input_size": 96, "mean": [...], "std": [...], "channel_order": "rgb",
     "crop_padding": 0.1, "training": {...}}
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from .classifier_meta import ARCHITECTURES, ClassifierMeta
from .device import resolve_device
from .errors import ModelLoadError
from .onnx_models import preprocess as preprocess_numpy


def build_model(
    architecture: str, num_classes: int, head: str = 'dense128', weights=None, padding='torch'
) -> nn.Module:
    """
    Build a torchvision backbone with a new classification head.

    ``weights`` is a torchvision weights enum or None (random initialisation, then a checkpoint's
    tensors are loaded). Downloading ImageNet weights for training is the workflow's business
    (``glass_perception.workflow.checkpoints.pretrained_model``).
    """
    import torchvision.models as tvm

    if architecture not in ARCHITECTURES:
        raise ValueError(f'unknown architecture {architecture}')
    net = getattr(tvm, architecture)(weights=weights)
    if architecture == 'mobilenet_v2':
        features = net.classifier[1].in_features
        net.classifier = _head(head, features, num_classes)
    elif architecture == 'resnet50':
        features = net.fc.in_features
        net.fc = _head(head, features, num_classes)
    else:  # vgg16: the head replaces VGG's whole classifier (its 4096-wide layers) on the 25088
        # pooled features, like Keras' include_top=False; so this VGG16 has ~18 M parameters, not
        # the ImageNet model's 138 M
        features = net.classifier[0].in_features
        net.classifier = _head(head, features, num_classes)
    if padding == 'tf_same':
        tf_same_padding(net)
    elif padding != 'torch':
        raise ValueError(f'unknown padding {padding}')
    return net


def tf_same_padding(net: nn.Module) -> nn.Module:
    """
    Make every strided convolution of ``net`` pad as TensorFlow's 'SAME' does (in place).

    TensorFlow pads a stride-2 3x3 convolution of an even-sized input only after (right and
    bottom), torchvision on both sides: weights converted from TensorFlow see their inputs one
    pixel off at every such layer without this. The state dict is unchanged.
    """
    import math

    import torch.nn.functional as F

    def pad(conv, args):
        (x,) = args
        pads = []
        for size, k, s in zip(x.shape[:-3:-1], conv.kernel_size[::-1], conv.stride[::-1]):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return (F.pad(x, pads),)

    for m in net.modules():
        if isinstance(m, nn.Conv2d) and max(m.stride) > 1:
            m.padding = (0, 0)
            m.register_forward_pre_hook(pad)
    return net


def _head(kind: str, features: int, num_classes: int) -> nn.Module:
    if kind == 'linear':
        return nn.Sequential(nn.Dropout(0.2), nn.Linear(features, num_classes))
    if kind == 'dense128':
        return nn.Sequential(
            nn.Linear(features, 128),
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(128, num_classes),
        )
    raise ValueError(f'unknown head {kind}')


HEAD_MODULE = {'mobilenet_v2': 'classifier', 'resnet50': 'fc', 'vgg16': 'classifier'}
# a tensor only that architecture has: tells which network a checkpoint's weights belong to
SIGNATURE = {
    'mobilenet_v2': 'features.18.0.weight',
    'resnet50': 'layer4.2.conv3.weight',
    'vgg16': 'features.28.weight',
}


def _misfit(state: dict, expected: dict, meta: ClassifierMeta) -> str | None:
    """
    Say why the tensors in ``state`` do not fit the network that ``meta`` describes.

    In a few words; None when they fit.
    """
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    if not (missing or unexpected or mismatched):
        return None
    actual = [a for a, key in SIGNATURE.items() if key in state]
    if actual and meta.architecture not in actual:
        return f'the weights are a {actual[0]}, the JSON says {meta.architecture}'
    out = [
        k
        for k in expected
        if k.startswith(HEAD_MODULE[meta.architecture] + '.') and k.endswith('.weight')
    ][-1]
    if out in mismatched:
        return (
            f'the head has {state[out].shape[0]} outputs, '
            f'the JSON lists {len(meta.class_names)} class_names'
        )
    if mismatched:
        k = mismatched[0]
        return (
            f'{k} is {tuple(state[k].shape)} in the weights, '
            f'{tuple(expected[k].shape)} in the model'
        )
    return (
        f'{len(missing)} tensors missing{f" ({missing[0]}, ...)" if missing else ""}, '
        f'{len(unexpected)} unexpected{f" ({unexpected[0]}, ...)" if unexpected else ""}'
    )


def checkpoint_paths(path: Path | str) -> tuple[Path, Path]:
    """(weights, metadata) for a path naming either file of a checkpoint, or its stem."""
    path = Path(path)
    if path.suffix in ('.safetensors', '.json'):
        path = path.with_suffix('')
    # append, never with_suffix: a stem like "glasses.v2" must keep its dot
    return path.parent / (path.name + '.safetensors'), path.parent / (path.name + '.json')


def load_checkpoint(path: Path | str, device: str = 'cpu') -> tuple[nn.Module, ClassifierMeta]:
    """
    Load a checkpoint for inference (eval mode).

    Raise ModelLoadError naming the file on any fault.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights, meta_path = checkpoint_paths(path)
    for f in (weights, meta_path):
        if not f.is_file():
            raise ModelLoadError(
                f'{f}: file not found; a classifier checkpoint is a .safetensors file '
                f'with a .json of the same name beside it'
            )
        if f.stat().st_size == 0:
            raise ModelLoadError(f'{f}: file is empty')
    meta = ClassifierMeta.from_json(meta_path.read_text(errors='replace'), meta_path)
    try:
        state = load_file(str(weights), device='cpu')
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise ModelLoadError(f'{weights}: not a readable safetensors file ({e})') from e
    model = build_model(meta.architecture, len(meta.class_names), meta.head, padding=meta.padding)
    reason = _misfit(state, model.state_dict(), meta)
    if reason:
        raise ModelLoadError(
            f'{weights}: weights do not fit a {meta.architecture} with a {meta.head} head and '
            f'{len(meta.class_names)} classes as {meta_path.name} says: {reason}; use the .json '
            'written with these weights (glass-train writes both)'
        )
    model.load_state_dict(state, strict=True)
    model.eval()
    return model.to(device), meta


def preprocess(crops: list[np.ndarray], meta: ClassifierMeta) -> torch.Tensor:
    """Return BGR uint8 crops (any square size) as the model's normalised NCHW float tensor."""
    return torch.from_numpy(preprocess_numpy(crops, meta))


def frozen_for_cpu(model: nn.Module, input_size: int) -> nn.Module:
    """
    ``model`` traced and frozen for CPU inference, or ``model`` itself where that fails.

    Freezing folds each BatchNorm into its convolution and drops the per-layer Python calls:
    MobileNetV2 at 96x96 runs about twice as fast on 2 crops, four times on 6 (measured with one
    thread here). The frozen model is used only if it gives the eager model's outputs, at two
    batch sizes (the trace must not have fixed the batch).
    """
    import warnings

    example = torch.randn(2, 3, input_size, input_size)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter(
                'ignore', FutureWarning
            )  # torch.jit is deprecated but still the fast path
            # TensorFlow-style padding reads the input size: traced as a constant, which is right
            # for the one input size a classifier runs at (and the outputs are checked below)
            warnings.simplefilter('ignore', torch.jit.TracerWarning)
            frozen = torch.jit.optimize_for_inference(
                torch.jit.freeze(torch.jit.trace(model.eval(), example))
            )
            for x in (example, torch.randn(5, 3, input_size, input_size)):
                if not torch.allclose(frozen(x), model(x), rtol=1e-3, atol=1e-4):
                    return model
    except Exception:  # an architecture the tracer cannot take: the eager model is still right
        return model
    return frozen


class GlassClassifier:
    """A loaded checkpoint that turns crops into class probabilities."""

    def __init__(self, path: Path | str, device: str = 'cpu', optimise: bool = True):
        self.device = resolve_device(device)
        self.model, self.meta = load_checkpoint(path, self.device)
        self.path = Path(path)
        use_frozen = optimise and self.device == 'cpu'
        self._forward = (
            frozen_for_cpu(self.model, self.meta.input_size) if use_frozen else self.model
        )

    @property
    def optimised(self) -> bool:
        """Whether predictions come from the frozen CPU model (``frozen_for_cpu``)."""
        return self._forward is not self.model

    @property
    def class_names(self) -> list[str]:
        return self.meta.class_names

    @torch.inference_mode()
    def predict(self, crops: list[np.ndarray]) -> np.ndarray:
        """Probabilities, shape (N, classes), rows summing to 1. One forward pass for all crops."""
        if not crops:
            return np.zeros((0, len(self.class_names)), np.float32)
        x = preprocess(crops, self.meta).to(self.device)
        return torch.softmax(self._forward(x), dim=1).float().cpu().numpy()
