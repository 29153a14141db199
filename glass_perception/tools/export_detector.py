"""
glass-export-detector: export a YOLO detector (.pt) to ONNX, which cannot run code when loaded.

Ultralytics .pt files are Python pickles: loading one (here too) can run code, so export only
weights you trust, once, and give the robot the .onnx file::

    glass-export-detector  # the shipped detector -> glass_yolov5n_coco.onnx
    glass-export-detector my_best.pt --out models/my_best.onnx --imgsz 320
    ros2 launch glass_perception pipeline.launch.py detector_model:=$PWD/models/my_best.onnx

The ONNX model has a fixed input size (--imgsz) unless --dynamic; a detector node given another
``imgsz`` runs at the model's size and logs that.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import shutil
import sys
import tempfile

from ..core.atomic import atomic_path
from ..core.errors import ModelLoadError
from ..core.paths import DEFAULT_DETECTOR_WEIGHTS


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='glass-export-detector',
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        'weights',
        nargs='?',
        type=Path,
        default=DEFAULT_DETECTOR_WEIGHTS,
        help='YOLO detection weights (.pt); default: the shipped detector',
    )
    p.add_argument(
        '--out',
        type=Path,
        help='the .onnx file to write (atomically); default: <weights stem>.onnx here',
    )
    p.add_argument(
        '--imgsz', type=int, default=320, help='input size the model will run at (default 320)'
    )
    p.add_argument(
        '--dynamic', action='store_true', help="accept any input size (runs at the node's imgsz)"
    )
    return p


def export_onnx(weights: Path, out: Path, imgsz: int = 320, dynamic: bool = False) -> Path:
    """
    Export ``weights`` (a YOLO detection .pt) to ``out`` (.onnx), written atomically.

    Returns ``out``.
    """
    from ultralytics import YOLO

    from ..core.detector import no_autoinstall, onnx_detector_info, short_reason

    weights, out = Path(weights), Path(out)
    if not weights.is_file() or weights.suffix != '.pt':
        raise ModelLoadError(f'{weights}: not a .pt file; give YOLO detection weights to export')
    if out.suffix != '.onnx':
        raise ModelLoadError(f'{out}: the output must end in .onnx')
    with tempfile.TemporaryDirectory() as tmp, no_autoinstall():
        src = (
            Path(tmp) / weights.name
        )  # Ultralytics writes the export beside its input: keep that out of place
        shutil.copyfile(weights, src)
        try:
            model = YOLO(str(src))
        except Exception as e:
            raise ModelLoadError(
                f'{weights}: cannot load ({short_reason(e, str(src))}); '
                'is it a YOLO detection model?'
            ) from e
        if model.task != 'detect':
            raise ModelLoadError(f"{weights}: a YOLO '{model.task}' model, not a detection model")
        exported = model.export(
            format='onnx',
            imgsz=imgsz,
            dynamic=dynamic,
            simplify=False,
            half=False,
            device='cpu',
            batch=1,
        )
        with atomic_path(out) as part:
            shutil.copyfile(exported, part)
            onnx_detector_info(
                part
            )  # the file the detector will read: check it before it replaces ``out``
    return out


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = args.out or Path(args.weights.stem + '.onnx')
    try:
        export_onnx(args.weights, out, args.imgsz, args.dynamic)
    except ModelLoadError as e:
        print(f'glass-export-detector: error: {e}', file=sys.stderr)
        return 1
    from ..core.detector import onnx_detector_info

    names, hw = onnx_detector_info(out)
    size = f'{hw[0]}x{hw[1]}' if hw else 'any size'
    print(
        f'wrote {out}: input {size}, classes {names}; '
        f"use it with the detector's model:={out.resolve()}"
    )
    return 0


if __name__ == '__main__':
    sys.exit(main())
