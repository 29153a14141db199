"""
glass-export-classifier: export a classifier checkpoint (safetensors + JSON) to ONNX.

  glass-export-classifier                      # the shipped classifier -> glass_mobilenet_v2.onnx
  glass-export-classifier my.safetensors --out models/my.onnx
  ros2 launch glass_perception pipeline.launch.py classifier_model:=$PWD/models/my.onnx

Writes ``<out>.onnx`` (any batch size) and the checkpoint's ``.json`` beside it, each atomically,
after checking that ONNX Runtime gives the checkpoint's probabilities (to 1e-4) on random crops at
two batch sizes. A node given the ``.onnx`` runs it in ONNX Runtime and never imports torch.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import shutil
import sys
import tempfile

import numpy as np

from ..core.atomic import atomic_path, atomic_write_text
from ..core.errors import ModelLoadError
from ..core.paths import DEFAULT_CLASSIFIER_CHECKPOINT


def export_classifier(checkpoint: Path, out: Path, opset: int = 17) -> Path:
    """Export ``checkpoint`` to ``out`` (.onnx) with its .json beside it; return ``out``."""
    import torch

    from ..core.classifier import checkpoint_paths, load_checkpoint, preprocess
    from ..core.onnx_models import OnnxGlassClassifier

    out = Path(out)
    if out.suffix != '.onnx':
        raise ModelLoadError(f'{out}: the output must end in .onnx')
    model, meta = load_checkpoint(checkpoint)
    size = meta.input_size
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = Path(tmp) / 'model.onnx'
        with torch.no_grad():
            torch.onnx.export(
                model.eval(),
                torch.zeros(1, 3, size, size),
                str(onnx_path),
                input_names=['images'],
                output_names=['logits'],
                dynamic_axes={'images': {0: 'batch'}, 'logits': {0: 'batch'}},
                opset_version=opset,
                dynamo=False,
            )
        shutil.copyfile(checkpoint_paths(checkpoint)[1], Path(tmp) / 'model.json')
        check = OnnxGlassClassifier(onnx_path, runtime='onnxruntime')  # float32, as exported
        rng = np.random.default_rng(0)
        for n in (1, 5):
            crops = [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(n)]
            with torch.no_grad():
                want = torch.softmax(model(preprocess(crops, meta)), dim=1).numpy()
            got = check.predict(crops)
            if not np.allclose(got, want, atol=1e-4):
                raise ModelLoadError(
                    f'{checkpoint}: the ONNX export differs from the checkpoint by '
                    f'{np.abs(got - want).max():.2e}; not written'
                )
        with atomic_path(out) as part:
            shutil.copyfile(onnx_path, part)
        atomic_write_text(out.with_suffix('.json'), meta.to_json())
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='glass-export-classifier',
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        'checkpoint',
        nargs='?',
        type=Path,
        default=DEFAULT_CLASSIFIER_CHECKPOINT,
        help='a .safetensors checkpoint with its .json; default: the shipped classifier',
    )
    p.add_argument('--out', type=Path, help='the .onnx to write; default: <stem>.onnx here')
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    out = args.out or Path(args.checkpoint.with_suffix('.onnx').name)
    try:
        export_classifier(args.checkpoint, out)
    except ModelLoadError as e:
        print(f'glass-export-classifier: {e}', file=sys.stderr)
        return 2
    print(f'wrote {out} and {out.with_suffix(".json")}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
