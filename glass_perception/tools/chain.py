"""What the evaluation commands share: the node chain's models, opened as the nodes open them."""

from __future__ import annotations

import json


def open_chain(detector: str = '', classifier: str = '', sizes: str = '', threads: int = 1):
    """
    Return (detector, classifier, size model) with the nodes' defaults; empty = shipped.

    The detector runs at the detector node's default ``imgsz``; the size model defaults to the
    one beside the classifier. Raises ModelLoadError or ValueError naming the file.
    """
    from ..core.cpu import set_threads
    from ..core.detector import Detector
    from ..core.models import open_classifier
    from ..core.params import default, DETECTOR
    from ..core.paths import DEFAULT_CLASSIFIER, DEFAULT_DETECTOR
    from ..core.sizes import SizeModel, sizes_path

    set_threads(threads)
    imgsz = default(DETECTOR, 'imgsz')
    det = Detector(detector or str(DEFAULT_DETECTOR), imgsz=imgsz)
    clf = open_classifier(classifier or DEFAULT_CLASSIFIER)
    return det, clf, SizeModel.load(sizes or sizes_path(clf.path))


def add_real_options(parser, real_parent=None, real_help: str = '', photos_help: str = ''):
    """
    Add ``--real [LABELS]`` and ``--photos DIR``: the real images the evaluations score.

    ``--real`` goes to ``real_parent`` (e.g. a mutually exclusive group), default the parser.
    """
    from pathlib import Path

    (real_parent or parser).add_argument(
        '--real',
        nargs='?',
        const='',
        metavar='LABELS',
        help=f'{real_help} (default labels: the package ones)',
    )
    parser.add_argument('--photos', type=Path, help=photos_help)


def write_report(path, report: dict) -> None:
    """Write a report as JSON, atomically (values JSON cannot hold as their str)."""
    from ..core.atomic import atomic_write_text

    atomic_write_text(path, json.dumps(report, indent=1, default=str))
