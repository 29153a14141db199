"""
A classifier checkpoint's metadata (its ``.json``): the same for the torch and the ONNX model.

No torch here, so that a node running an ONNX classifier never imports it. No ROS either.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
import json
import math
from pathlib import Path

from .errors import ModelLoadError

FORMAT = 'glass_perception.classifier'
FORMAT_VERSION = 1
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
ARCHITECTURES = ('mobilenet_v2', 'resnet50', 'vgg16')
HEADS = ('linear', 'dense128')
#: how strided convolutions pad: torchvision's (symmetric) or TensorFlow's 'SAME' (weights
#: converted from TensorFlow, e.g. the TFLite ImageNet MobileNetV2)
PADDINGS = ('torch', 'tf_same')


@dataclass
class ClassifierMeta:
    architecture: str
    class_names: list[str]
    input_size: int
    head: str = 'dense128'
    mean: list[float] = field(default_factory=lambda: list(IMAGENET_MEAN))
    std: list[float] = field(default_factory=lambda: list(IMAGENET_STD))
    channel_order: str = 'rgb'
    crop_padding: float = 0.1
    padding: str = 'torch'
    training: dict = field(default_factory=dict)

    def to_json(self) -> str:
        d = {'format': FORMAT, 'format_version': FORMAT_VERSION}
        d.update(asdict(self))
        return json.dumps(d, indent=2)

    @classmethod
    def from_json(cls, text: str, source: Path) -> 'ClassifierMeta':
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ModelLoadError(
                f'{source}: not valid JSON ({e}); re-export the checkpoint with glass-train'
            ) from e
        if not isinstance(d, dict) or d.get('format') != FORMAT:
            raise ModelLoadError(
                f'{source}: not a glass_perception classifier metadata file '
                f'(expected "format": "{FORMAT}")'
            )
        if d.get('format_version') != FORMAT_VERSION:
            raise ModelLoadError(
                f'{source}: format_version {d.get("format_version")} is not supported '
                f'(this version reads {FORMAT_VERSION})'
            )

        def str_list(key):
            v = d[key]
            if not isinstance(v, list) or not all(isinstance(c, str) for c in v):
                raise TypeError(f"'{key}' must be a list of strings")
            return v

        def float_triple(key, default):
            v = d.get(key, list(default))
            if (
                not isinstance(v, list)
                or len(v) != 3
                or not all(
                    isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
                    for x in v
                )
            ):
                raise TypeError(f"'{key}' must be a list of three finite numbers")
            return [float(x) for x in v]

        try:
            meta = cls(
                architecture=str(d['architecture']),
                class_names=str_list('class_names'),
                input_size=int(d['input_size']),
                head=str(d.get('head', 'dense128')),
                mean=float_triple('mean', IMAGENET_MEAN),
                std=float_triple('std', IMAGENET_STD),
                channel_order=str(d.get('channel_order', 'rgb')),
                crop_padding=float(d.get('crop_padding', 0.1)),
                padding=str(d.get('padding', 'torch')),
                training=dict(d.get('training', {})),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ModelLoadError(f'{source}: missing or malformed field {e}') from e
        if meta.architecture not in ARCHITECTURES:
            raise ModelLoadError(
                f"{source}: architecture '{meta.architecture}' is unknown; "
                f'supported: {", ".join(ARCHITECTURES)}'
            )
        if meta.head not in HEADS:
            raise ModelLoadError(
                f"{source}: head '{meta.head}' is unknown; supported: {', '.join(HEADS)}"
            )
        if meta.padding not in PADDINGS:
            raise ModelLoadError(
                f"{source}: padding '{meta.padding}' is unknown; supported: {', '.join(PADDINGS)}"
            )
        if len(meta.class_names) < 2 or len(set(meta.class_names)) != len(meta.class_names):
            raise ModelLoadError(f'{source}: class_names must list at least two distinct names')
        if (
            not 16 <= meta.input_size <= 1024
            or len(meta.mean) != 3
            or len(meta.std) != 3
            or min(meta.std) <= 0
            or meta.channel_order not in ('rgb', 'bgr')
        ):
            raise ModelLoadError(f'{source}: input_size, mean, std or channel_order out of range')
        return meta
