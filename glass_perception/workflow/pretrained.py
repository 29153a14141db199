"""
Pretrained starting points, read offline and safely: COCO YOLOv5n and ImageNet MobileNetV2.

Two public files start the project's models (``../shared/weights/SOURCES.md`` and the model card
say where they come from, their hashes and licences):

* ``yolov5n.pt``: Ultralytics' official YOLOv5n (COCO, release v7.0), a Python pickle of the whole
  model object. Unpickling it the usual way runs whatever it names. Here its SHA-256 is checked
  first, then it is read by torch's ``weights_only`` unpickler with an allow-list: tensors and
  storages (torch's own list), and the fourteen classes such a checkpoint contains (the YOLOv5
  repository's ``models.yolo.Model``, ``Detect``, ``Conv``, ``C3``, ``Bottleneck``, ``SPPF``,
  ``Concat`` and the torch.nn layers they use), each mapped to an inert record that keeps the
  pickled attributes and runs nothing. Anything else in the file is refused with one line naming
  the file and the global (:class:`PretrainedError`). What comes out is a state dict, the class
  names and the anchors (:class:`YOLOv5Weights`).
* ``mobilenet_v2_1.0_224_quant.tflite``: TensorFlow's uint8-quantised MobileNetV2 (ImageNet, 1001
  outputs, batch norm folded into the convolutions). Parsed with the ``tflite`` package (a
  flatbuffer reader, no TensorFlow), each weight dequantised (``scale * (q - zero_point)``, per
  channel where the file has per-channel scales) and mapped onto torchvision's MobileNetV2 in
  layer order; each folded batch norm becomes an identity carrying the convolution's bias. Its
  input is RGB in [-1, 1] (``IMAGENET_TFLITE_MEAN``/``STD`` on [0, 1] pixels). TensorFlow pads
  "SAME" (stride-2 layers pad only after), torchvision symmetrically; the converted network pads
  as TensorFlow did (``core.classifier.tf_same_padding``; a checkpoint's ``padding: tf_same``).

On a connected machine the usual downloads work as before (``fetch``: the official URL, the same
hash check); offline, ``find_pretrained`` looks in ``$GLASS_PRETRAINED_DIR`` and the
``shared/weights`` folder beside the checkout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import hashlib
import os
from pathlib import Path
import re

import numpy as np

#: the official files, their hashes and where a connected machine downloads them
YOLOV5N = 'yolov5n.pt'
MOBILENET_V2_TFLITE = 'mobilenet_v2_1.0_224_quant.tflite'
SHA256 = {
    YOLOV5N: '4f180cf23ba0717ada0badd6c685026d73d48f184d00fc159c2641284b2ac0a3',
    MOBILENET_V2_TFLITE: '7aad0c74c5e3c06e5eb3c827e13304fdd68a83da6087d92ee169c24ff9fd4776',
}
URLS = {
    YOLOV5N: 'https://github.com/ultralytics/yolov5/releases/download/v7.0/yolov5n.pt',
    MOBILENET_V2_TFLITE: (
        'https://storage.googleapis.com/download.tensorflow.org/models/tflite_11_05_08/'
        'mobilenet_v2_1.0_224_quant.tgz'
    ),
}
#: what the TFLite network expects, written as mean and std on [0, 1] RGB: 2x - 1
IMAGENET_TFLITE_MEAN = (0.5, 0.5, 0.5)
IMAGENET_TFLITE_STD = (0.5, 0.5, 0.5)

#: every class a YOLOv5 v7.0 detection checkpoint pickles (listed by pickletools on the file)
YOLOV5_GLOBALS = (
    'models.yolo.Model',
    'models.yolo.Detect',
    'models.common.Conv',
    'models.common.C3',
    'models.common.Bottleneck',
    'models.common.SPPF',
    'models.common.Concat',
    'torch.nn.modules.activation.SiLU',
    'torch.nn.modules.batchnorm.BatchNorm2d',
    'torch.nn.modules.container.ModuleList',
    'torch.nn.modules.container.Sequential',
    'torch.nn.modules.conv.Conv2d',
    'torch.nn.modules.pooling.MaxPool2d',
    'torch.nn.modules.upsampling.Upsample',
)


class PretrainedError(ValueError):
    """A pretrained file that is refused; one line naming the file and the reason."""


def sha256_of(path: Path | str) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def check_sha256(path: Path | str, expected: str) -> None:
    """Raise PretrainedError naming ``path`` unless its SHA-256 is ``expected``."""
    path = Path(path)
    if not path.is_file():
        raise PretrainedError(f'{path}: no such file')
    got = sha256_of(path)
    if got != expected:
        raise PretrainedError(
            f"{path}: SHA-256 {got[:12]}... is not the official file's {expected[:12]}...; "
            'refusing to read it'
        )


def default_search_dirs() -> list[Path]:
    """``$GLASS_PRETRAINED_DIR`` (':'-separated), then ``shared/weights`` beside the checkout."""
    dirs = [Path(d) for d in os.environ.get('GLASS_PRETRAINED_DIR', '').split(':') if d]
    repo = Path(__file__).resolve().parents[2]
    dirs.append(repo.parent / 'shared' / 'weights')
    return dirs


def find_pretrained(name: str, search: list[Path] | None = None) -> Path | None:
    """Return the first offline copy of ``name`` with the official hash, else None."""
    for d in default_search_dirs() if search is None else search:
        p = Path(d) / name
        if p.is_file() and sha256_of(p) == SHA256[name]:
            return p
    return None


def fetch(name: str, cache: Path | None = None) -> Path:
    """
    Return a checked local copy of ``name``: an offline copy, else the official download.

    The download (a connected machine) lands in torch's hub cache and is hash-checked like an
    offline copy; failing both, PretrainedError says where to put the file.
    """
    found = find_pretrained(name)
    if found is not None:
        return found
    import tarfile

    import torch.hub

    cache = Path(cache or Path(torch.hub.get_dir()) / 'glass_perception')
    target = cache / name
    if not target.is_file():
        url = URLS[name]
        cache.mkdir(parents=True, exist_ok=True)
        download = cache / Path(url).name
        try:
            torch.hub.download_url_to_file(url, str(download), progress=False)
        except Exception as e:  # URLError, HTTPError, OSError: whatever the download raised
            raise PretrainedError(
                f'{name}: no offline copy in {", ".join(map(str, default_search_dirs()))} and the '
                f'download from {url} failed ({type(e).__name__}: {e}); put the file in '
                '$GLASS_PRETRAINED_DIR'
            ) from e
        if download.suffix == '.tgz':
            with tarfile.open(download) as tar:
                member = next((m for m in tar.getmembers() if m.name.endswith(name)), None)
                if member is None or not member.isfile():
                    raise PretrainedError(f'{download}: holds no {name}')
                with tar.extractfile(member) as src, open(target, 'wb') as dst:
                    dst.write(src.read())
    check_sha256(target, SHA256[name])
    return target


# --------------------------------------------------------------------------- YOLOv5 checkpoint


class _Record:
    """What an allowed class of a checkpoint becomes: its pickled attributes, nothing run."""

    def __setstate__(self, state):
        if not isinstance(state, dict):
            raise PretrainedError(f'{type(self).__qualname__}: unexpected state {type(state)}')
        self.__dict__.update(state)


def _records(names) -> list[tuple[type, str]]:
    return [(type(n.rsplit('.', 1)[1], (_Record,), {'__qualname__': n}), n) for n in names]


@dataclass
class YOLOv5Weights:
    """What a YOLOv5 checkpoint holds that a model needs; no code of the file's."""

    state: dict = field(repr=False)  # name -> float32 tensor, as ``Model.state_dict()``
    names: list[str]
    anchors: np.ndarray  # (levels, anchors, 2) in pixels of the input image
    strides: list[float]
    yaml: dict = field(repr=False)


def _module_state(record, prefix: str, out: dict) -> None:
    for group in ('_parameters', '_buffers'):
        for name, t in (getattr(record, group, None) or {}).items():
            if t is not None:
                out[prefix + name] = t.detach().float()
    for name, child in (getattr(record, '_modules', None) or {}).items():
        if child is not None:
            _module_state(child, f'{prefix}{name}.', out)


def _unsupported_global(message: str) -> str:
    m = re.search(r'(?:GLOBAL|global) ([\w.]+)', message)
    return m.group(1) if m else message.strip().splitlines()[0][:160]


def read_yolov5_checkpoint(
    path: Path | str, sha256: str | None = SHA256[YOLOV5N]
) -> YOLOv5Weights:
    """
    Read a YOLOv5 detection checkpoint without running anything in it.

    ``sha256`` (the official yolov5n.pt's by default; None skips the check, for checkpoints of
    one's own) is checked first. Any global outside ``YOLOV5_GLOBALS`` and torch's tensor types
    is refused: PretrainedError naming the file and the global.
    """
    import pickle

    import torch

    path = Path(path)
    if sha256 is not None:
        check_sha256(path, sha256)
    elif not path.is_file():
        raise PretrainedError(f'{path}: no such file')
    try:
        with torch.serialization.safe_globals(_records(YOLOV5_GLOBALS)):
            ckpt = torch.load(str(path), map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as e:
        raise PretrainedError(
            f'{path}: refused, it names {_unsupported_global(str(e))}, which a YOLOv5 checkpoint '
            'does not contain; nothing in it was run'
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise PretrainedError(f'{path}: not a readable torch checkpoint ({first})') from None
    model = (ckpt.get('ema') or ckpt.get('model')) if isinstance(ckpt, dict) else None
    if type(model).__qualname__ != 'models.yolo.Model':
        raise PretrainedError(f'{path}: holds no YOLOv5 model (ckpt["model"] is {type(model)})')
    state: dict = {}
    _module_state(model, '', state)
    layers = list(model._modules['model']._modules.values())
    head = layers[-1]
    if type(head).__qualname__ != 'models.yolo.Detect':
        raise PretrainedError(f'{path}: its last layer is not a YOLOv5 Detect head')
    strides = [float(s) for s in head.stride]
    anchors = head._buffers['anchors'].float().numpy() * np.array(strides)[:, None, None]
    names = model.names
    names = [names[k] for k in sorted(names)] if isinstance(names, dict) else list(names)
    return YOLOv5Weights(state, [str(n) for n in names], anchors, strides, dict(model.yaml))


# --------------------------------------------------------------------------- TFLite MobileNetV2


def _dequantised(model, graph, index: int) -> np.ndarray:
    t = graph.Tensors(index)
    buf = model.Buffers(t.Buffer()).DataAsNumpy()
    if isinstance(buf, int):  # an empty buffer: an activation, not a weight
        raise PretrainedError(f'tensor {t.Name().decode()} has no data')
    dtype = {2: np.int32, 3: np.uint8, 9: np.int8, 0: np.float32}.get(t.Type())
    if dtype is None:
        raise PretrainedError(f'tensor {t.Name().decode()}: unsupported type {t.Type()}')
    q = np.frombuffer(buf.tobytes(), dtype).reshape(t.ShapeAsNumpy())
    if dtype == np.float32:
        return q.astype(np.float32)
    quant = t.Quantization()
    scale = quant.ScaleAsNumpy() if quant is not None and quant.ScaleLength() else None
    if scale is None:
        raise PretrainedError(f'tensor {t.Name().decode()}: quantised without a scale')
    zero = quant.ZeroPointAsNumpy() if quant.ZeroPointLength() else np.zeros_like(scale)
    axis = quant.QuantizedDimension()
    shape = [1] * q.ndim
    if scale.size > 1:
        shape[axis] = scale.size
    return ((q.astype(np.float64) - zero.reshape(shape)) * scale.reshape(shape)).astype(np.float32)


def _tflite_convolutions(path: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Every convolution of a TFLite graph in order: (kind, OHWI weights, bias), dequantised."""
    try:
        import tflite
        from tflite.BuiltinOperator import BuiltinOperator
    except ImportError as e:
        raise PretrainedError(f'{path}: reading TFLite needs the tflite package ({e})') from e
    data = path.read_bytes()
    try:
        model = tflite.Model.GetRootAsModel(data, 0)
        graph = model.Subgraphs(0)
        n_ops = graph.OperatorsLength()
    except Exception as e:  # flatbuffers raises struct.error, IndexError, ... on garbage
        raise PretrainedError(f'{path}: not a TFLite flatbuffer ({type(e).__name__})') from None
    kinds = {BuiltinOperator.CONV_2D: 'conv', BuiltinOperator.DEPTHWISE_CONV_2D: 'depthwise'}
    convs = []
    for i in range(n_ops):
        op = graph.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        kind = kinds.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()))
        if kind is None:
            continue
        w = _dequantised(model, graph, op.Inputs(1))
        b = _dequantised(model, graph, op.Inputs(2))
        convs.append((kind, w, b))
    return convs


def read_mobilenet_v2_tflite(
    path: Path | str, sha256: str | None = SHA256[MOBILENET_V2_TFLITE]
) -> dict:
    """
    Map the TFLite MobileNetV2 onto torchvision's ``mobilenet_v2(num_classes=1001)``.

    Returns its state dict (float32 tensors): convolutions dequantised, each folded batch norm an
    identity (weight 1, running mean 0, running variance 1 - eps) with the convolution's bias,
    the logits convolution as ``classifier.1`` (1001 outputs, 0 = background). A file that is not
    this network (another layer count or shape) raises PretrainedError naming the layer.
    """
    import torch
    import torchvision.models as tvm

    path = Path(path)
    if sha256 is not None:
        check_sha256(path, sha256)
    elif not path.is_file():
        raise PretrainedError(f'{path}: no such file')
    convs = _tflite_convolutions(path)
    net = tvm.mobilenet_v2(num_classes=1001)
    layers = [(n, m) for n, m in net.features.named_modules() if isinstance(m, torch.nn.Conv2d)]
    if len(convs) != len(layers) + 1:
        raise PretrainedError(
            f'{path}: {len(convs)} convolutions, MobileNetV2 1.0 has {len(layers) + 1}: '
            'not this network'
        )
    modules = dict(net.features.named_modules())
    state = {}
    for (name, conv), (kind, w, b) in zip(layers, convs):
        if kind == 'depthwise':  # TFLite 1HW(C*multiplier) -> torch (C, 1, H, W)
            w = w.transpose(3, 0, 1, 2)
        else:  # OHWI -> OIHW
            w = w.transpose(0, 3, 1, 2)
        if tuple(w.shape) != tuple(conv.weight.shape):
            raise PretrainedError(
                f'{path}: layer features.{name} is {tuple(w.shape)} in the file, '
                f'{tuple(conv.weight.shape)} in MobileNetV2 1.0: not this network'
            )
        state[f'features.{name}.weight'] = torch.from_numpy(np.ascontiguousarray(w))
        # the batch norm that follows the convolution in torchvision: its sibling, next index
        parent, index = name.rsplit('.', 1)
        bn_name = f'{parent}.{int(index) + 1}'
        bn = modules[bn_name]
        prefix = f'features.{bn_name}.'
        state[prefix + 'weight'] = torch.ones(bn.num_features)
        state[prefix + 'bias'] = torch.from_numpy(b.copy())
        state[prefix + 'running_mean'] = torch.zeros(bn.num_features)
        state[prefix + 'running_var'] = torch.full((bn.num_features,), 1.0 - bn.eps)
        state[prefix + 'num_batches_tracked'] = torch.tensor(0)
    kind, w, b = convs[-1]
    if w.shape[0] != 1001 or w.size != 1001 * 1280:
        raise PretrainedError(f'{path}: logits layer {w.shape}, expected 1001 x 1280')
    state['classifier.1.weight'] = torch.from_numpy(w.reshape(1001, 1280).copy())
    state['classifier.1.bias'] = torch.from_numpy(b.copy())
    return state


def mobilenet_v2_imagenet(path: Path | str | None = None, padding: str = 'tf_same'):
    """Return torchvision's MobileNetV2 (1001 outputs) with the TFLite weights, in eval mode."""
    import torchvision.models as tvm

    from ..core.classifier import tf_same_padding

    net = tvm.mobilenet_v2(num_classes=1001)
    net.load_state_dict(read_mobilenet_v2_tflite(path or fetch(MOBILENET_V2_TFLITE)))
    if padding == 'tf_same':
        tf_same_padding(net)
    return net.eval()
