"""
The models shipped in the package, re-checked on path-traced scenes they never saw in training.

Training and validation used seeds 101 to 110; these tests use a freshly rendered set (seed 4242)
of the training scenes' kind. (The camera's shipped synthetic scenes are RGB-D scenes of another
geometry, farther and steeper; glass-evaluate-3d reports the models on those.)
"""

from __future__ import annotations

from glass_perception.core.detector import Detector
from glass_perception.core.geometry import square_crop
from glass_perception.core.models import open_classifier
from glass_perception.core.paths import DEFAULT_CLASSIFIER
from glass_perception.core.synthetic import CLASSES, DETECTOR_NAME
from glass_perception.workflow.evaluation import evaluate_crops
from glass_perception.workflow.scoring import score_frame, Tally
import pytest

FRESH_SEED = 4242
FRESH_SCENES = 48


@pytest.fixture(scope='module')
def scenes():
    """(image, [(kind, box, visibility)]) for the fresh renders and the shipped scenes."""
    from glass_perception.workflow.pbr import render_pbr_scene

    out = []
    for i in range(FRESH_SCENES):
        s = render_pbr_scene(FRESH_SEED, i, 480, 360, 'fast')
        out.append((s.image, [(o.kind, o.box, o.visibility) for o in s.objects]))
    return out


def test_classifier_on_unseen_path_traced_crops(scenes):
    classifier = open_classifier(DEFAULT_CLASSIFIER)
    samples = [
        (square_crop(img, box, classifier.meta.crop_padding, 96), kind)
        for img, objs in scenes
        for kind, box, vis in objs
        if kind in CLASSES and vis >= 0.6
    ]
    report = evaluate_crops(classifier, samples)
    assert report['samples'] >= 80
    # Regression floors, a little below the target: the project's target is 95% per class, which
    # the shipped model meets on the 450 held-out scenes taken together (0.953 to 0.969) but not
    # for beer_glass on the 150 of seed 9102 alone (0.941; see the model card).
    # On these ~30 crops a class it scored 0.96 to 1.0 (98.9% overall); with ~30 crops one error
    # moves a class by 3 to 4 points, so the floors leave two or more.
    for name, r in report['per_class'].items():
        assert r['accuracy'] >= 0.85, f'{name}: {r["accuracy"]:.3f} on {r["samples"]} unseen crops'
    assert report['accuracy'] >= 0.93


def test_detector_finds_the_glasses_of_unseen_path_traced_scenes(scenes):
    det = Detector('', 'cpu', 320)
    tally = Tally()
    for img, objs in scenes:
        truth = [
            (box, DETECTOR_NAME[kind]) for kind, box, vis in objs if kind in CLASSES and vis >= 0.6
        ]
        tally.add(
            score_frame(truth, [(d.box, d.class_name) for d in det.detect(img, 0.35, 0.5, 50)])
        )
    assert tally.total >= 80
    # a regression floor: the model's held-out mAP50 is 0.97 (cup) and 0.98 (wine glass); it found
    # 94 of 95 here
    assert tally.accuracy >= 0.92, (
        f'{tally.correct}/{tally.total} found with the right COCO name, {tally.missed} missed'
    )
