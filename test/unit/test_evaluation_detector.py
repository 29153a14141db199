"""glass-evaluate-detector's figures: the node's thresholds, recall by size and distance."""

from __future__ import annotations

import json

from glass_perception.core.detector import Detection, Detector
from glass_perception.core.paths import DEFAULT_SCENES
from glass_perception.core.synthetic import CLASSES, DETECTOR_NAME
from glass_perception.tools import evaluate_detector as tool
from glass_perception.workflow.datasets import export_detection, load_scenes
from glass_perception.workflow.evaluation_detector import (
    detect_like_node,
    evaluate_detector,
    format_report,
)
import pytest


class TruthBoxes:
    """An oracle that reports the true boxes of the scene it is given (to check the counting)."""

    imgsz, runtime = 0, 'oracle'

    def __init__(self, folder, split='test'):
        self.by_image = {
            image.tobytes()[:4096]: objects for _, image, objects in load_scenes(folder, split)
        }

    def detect(self, image, conf, iou, max_det):
        objects = self.by_image[image.tobytes()[:4096]]
        return [Detection(o['box'], DETECTOR_NAME[o['kind']], 0.9) for o in objects]


def test_true_boxes_are_all_found_and_nothing_is_false():
    report = evaluate_detector(DEFAULT_SCENES, TruthBoxes(DEFAULT_SCENES), min_height=0)
    for cls in CLASSES:
        c = report['per_class'][cls]
        assert c['glasses'] > 0 and c['recall'] == 1.0
        assert sum(b['glasses'] for b in c['by_distance_m'].values()) == c['glasses']
    assert report['false_per_frame'] == 0 and set(report['precision'].values()) == {1.0}


def test_the_shipped_detector_is_scored_at_the_node_thresholds():
    det = Detector(imgsz=480, threads=1)
    report = evaluate_detector(DEFAULT_SCENES, det)
    rows = report['rows']
    assert report['scenes'] == 40 and rows
    # recount one scene by hand from what the node would keep
    stem, image, objects = next(iter(load_scenes(DEFAULT_SCENES)))
    kept = detect_like_node(det, image)
    assert all(d.score >= 0.35 and d.class_name in ('cup', 'wine glass') for d in kept)
    mine = [r for r in rows if r['stem'] == stem]
    assert len(mine) == sum(o['kind'] in CLASSES for o in objects)
    head = report['per_class']['all']
    assert 0.8 <= head['recall'] <= 1.0, head
    assert 'recall' in format_report(report) and 'false detections per frame' in format_report(
        report
    )


def test_a_detect_folder_without_distances_is_scored_by_height(tmp_path):
    export_detection(tmp_path, 5, 6, 'test', 160, 120)
    report = evaluate_detector(tmp_path, TruthBoxes(tmp_path), 'test', min_height=0)
    assert report['per_class']['all']['recall'] == 1.0
    assert all(b['glasses'] == 0 for b in report['per_class']['all']['by_distance_m'].values())
    with pytest.raises(FileNotFoundError, match='truth_val.json'):
        evaluate_detector(tmp_path, TruthBoxes(tmp_path), 'val')


def test_the_command_sweeps_input_sizes(tmp_path):
    out = tmp_path / 'r.json'
    args = ['--scenes', str(DEFAULT_SCENES), '--imgsz', '320', '480', '--json', str(out)]
    assert tool.main(args) == 0
    report = json.loads(out.read_text())
    assert report['320']['settings']['imgsz'] == 320 and report['480']['scenes'] == 40
    assert tool.main(['--scenes', str(tmp_path / 'none')]) == 2


def test_glasses_on_their_side_are_counted_apart(tmp_path):
    import shutil

    folder = tmp_path / 'scenes'
    shutil.copytree(DEFAULT_SCENES, folder)
    truth = json.loads((folder / 'truth.json').read_text())
    marked = 0
    for stem in sorted(truth)[:10]:
        for o in truth[stem]['objects']:
            if o['kind'] in CLASSES:
                o['lying'] = True
                marked += 1
    (folder / 'truth.json').write_text(json.dumps(truth))
    oracle = TruthBoxes(folder)

    class Upright:
        imgsz, runtime = 0, 'oracle'

        def detect(self, image, conf, iou, max_det):
            objects = oracle.by_image[image.tobytes()[:4096]]
            return [
                Detection(o['box'], DETECTOR_NAME[o['kind']], 0.9)
                for o in objects if not o['lying']
            ]

    report = evaluate_detector(folder, Upright(), min_height=0)
    pose = report['by_pose']
    assert pose['lying']['recall'] == 0.0 and 0 < pose['lying']['glasses'] <= marked
    assert pose['upright']['recall'] == 1.0
    assert pose['lying']['glasses'] + pose['upright']['glasses'] == report['per_class']['all'][
        'glasses'
    ]
    assert 'on their side' in format_report(report)
    # scenes without lying glasses print no such line
    assert 'on their side' not in format_report(
        evaluate_detector(DEFAULT_SCENES, TruthBoxes(DEFAULT_SCENES), min_height=0)
    )
