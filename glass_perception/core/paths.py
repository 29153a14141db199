"""Where the package's own files are: shipped models and scenes, config and launch files."""

from __future__ import annotations

from pathlib import Path
import sys

PACKAGE_DIR = Path(__file__).resolve().parent.parent
MODELS_DIR = PACKAGE_DIR / 'models'
#: what an empty ``model`` means: the ONNX exports, run by ONNX Runtime without torch
DEFAULT_DETECTOR = MODELS_DIR / 'glass_yolov5n_coco.onnx'
DEFAULT_CLASSIFIER = MODELS_DIR / 'glass_mobilenet_v2.onnx'
#: what they were exported from: the weights training and the torch path use
DEFAULT_DETECTOR_WEIGHTS = MODELS_DIR / 'glass_yolov5n_coco.pt'
DEFAULT_CLASSIFIER_CHECKPOINT = MODELS_DIR / 'glass_mobilenet_v2.safetensors'
#: path-traced scenes with ground truth: the camera node's ``synthetic`` source
DEFAULT_SCENES = PACKAGE_DIR / 'data' / 'scenes'


def share_dir() -> Path:
    """
    Find the package's share folder (config/, launch/).

    The ament index on a robot, else the source tree.
    """
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory('glass_perception'))
    except Exception:  # not installed through colcon/ament: a source checkout or a pip install
        pass
    for candidate in (PACKAGE_DIR.parent, Path(sys.prefix) / 'share' / 'glass_perception'):
        if (candidate / 'config' / 'params.yaml').is_file():
            return candidate
    raise FileNotFoundError("cannot find glass_perception's config/params.yaml")
