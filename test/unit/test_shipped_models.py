"""
The models shipped in the package, re-checked on path-traced scenes they never saw in training.

Training and validation used seeds 101 to 119 (and the RGB-D seed 9201); these tests use freshly
rendered sets: seed 4242 of the classic generator, seed 4243 of the wide generator's training
families, and seed 4244 of the families and photographs the models never saw (``--families
unseen``). (The camera's shipped synthetic scenes are RGB-D scenes of another geometry, farther
and steeper; glass-evaluate-3d reports the models on those.)
"""

from __future__ import annotations

from glass_perception.core.detector import Detector
from glass_perception.core.geometry import square_crop
from glass_perception.core.models import open_classifier
from glass_perception.core.params import DETECTOR
from glass_perception.core.paths import DEFAULT_CLASSIFIER
from glass_perception.core.synthetic import CLASSES, DETECTOR_NAME
from glass_perception.workflow.evaluation import evaluate_crops
from glass_perception.workflow.scoring import score_frame, Tally
import pytest

FRESH_SEED = 4242
FRESH_SCENES = 48


def _render(seed, count, **kw):
    from glass_perception.workflow.pbr import render_pbr_scene

    out = []
    for i in range(count):
        s = render_pbr_scene(seed, i, 480, 360, 'fast', **kw)
        out.append((s.image, [(o.kind, o.box, o.visibility) for o in s.objects]))
    return out


@pytest.fixture(scope='module')
def scenes():
    """(image, [(kind, box, visibility)]) for the fresh renders of the classic generator."""
    return _render(FRESH_SEED, FRESH_SCENES)


@pytest.fixture(scope='module')
def wide_scenes():
    """Render the same for the wide generator's training families (a seed never trained on)."""
    return _render(4243, 24, variety='wide', family_set='train')


@pytest.fixture(scope='module')
def unseen_scenes():
    """Render the same for the held-out families and photographs no training scene had."""
    return _render(4244, 16, variety='wide', family_set='unseen')


def _crops(scenes, padding):
    return [
        (square_crop(img, box, padding, 96), kind)
        for img, objs in scenes
        for kind, box, vis in objs
        if kind in CLASSES and vis >= 0.6
    ]


def _found(scenes) -> Tally:
    """Score the detector as the node runs it (its imgsz, thresholds, duplicate removal)."""
    from glass_perception.workflow.evaluation_detector import detect_like_node

    det = Detector('', 'cpu', next(p.default for p in DETECTOR if p.name == 'imgsz'))
    tally = Tally()
    for img, objs in scenes:
        truth = [
            (box, DETECTOR_NAME[kind]) for kind, box, vis in objs if kind in CLASSES and vis >= 0.6
        ]
        tally.add(score_frame(truth, [(d.box, d.class_name) for d in detect_like_node(det, img)]))
    return tally


def test_classifier_on_unseen_path_traced_crops(scenes):
    classifier = open_classifier(DEFAULT_CLASSIFIER)
    report = evaluate_crops(classifier, _crops(scenes, classifier.meta.crop_padding))
    assert report['samples'] >= 80
    # Regression floors for the classic generator: the stage-7 classifier scored 79/84 here
    # (beer_glass 22/25, cup 36/36, soju_glass 21/23; the stage-5 one 98.9%), and 93.1% on the
    # 150 held-out scenes of seed 9102 (model card). With ~25 crops a class one error moves a
    # class by 4 points, so the floors leave two or more.
    for name, r in report['per_class'].items():
        assert r['accuracy'] >= 0.8, f'{name}: {r["accuracy"]:.3f} on {r["samples"]} unseen crops'
    assert report['accuracy'] >= 0.9


def test_detector_finds_the_glasses_of_unseen_path_traced_scenes(scenes):
    tally = _found(scenes)
    assert tally.total >= 80
    # a regression floor: the stage-6 detector found all 84 here at the node's imgsz 480 (its
    # held-out recall on the classic RGB-D scenes is 96.6%); the stage-10 detector (COCO
    # YOLOv5n fine-tuned on the wide scenes) passes it too
    assert tally.accuracy >= 0.92, (
        f'{tally.correct}/{tally.total} found with the right COCO name, {tally.missed} missed'
    )


def test_classifier_on_the_wide_generator_and_on_families_it_never_saw(wide_scenes, unseen_scenes):
    # Regression floors on the stage-7 classifier: it scored 41/44 on the wide scenes and 26/27
    # on the held-out families (the stage-5 one 41/44 and 22/27); the model card has the
    # 400-crop figures (87.4% and 84.3%). The floors leave three more errors.
    classifier = open_classifier(DEFAULT_CLASSIFIER)
    for scenes, floor, least in ((wide_scenes, 0.86, 40), (unseen_scenes, 0.85, 20)):
        report = evaluate_crops(classifier, _crops(scenes, classifier.meta.crop_padding))
        assert report['samples'] >= least
        assert report['accuracy'] >= floor, report['per_class']


def test_detector_on_the_wide_generator_and_on_families_it_never_saw(wide_scenes, unseen_scenes):
    # the stage-6 detector found 40 of 44 glasses of the wide scenes and 17 of 27 of the held-out
    # families (the held-out 100 scenes: 72%; see the model card); floors leave three more misses.
    # The stage-10 detector passes the same floors
    for scenes, floor, least in ((wide_scenes, 0.84, 40), (unseen_scenes, 0.5, 20)):
        tally = _found(scenes)
        assert tally.total >= least
        assert tally.accuracy >= floor, f'{tally.correct}/{tally.total}, {tally.missed} missed'
