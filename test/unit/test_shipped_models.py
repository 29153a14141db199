"""The models shipped in the package, re-checked on freshly rendered scenes of seeds never used in
training (train 1/101, validation 2/102, the final held-out reports 9001/9102)."""
from __future__ import annotations

import pytest

from glass_perception.core.classifier import GlassClassifier
from glass_perception.core.detector import Detector
from glass_perception.core.evaluation import evaluate_crops, synthetic_samples
from glass_perception.core.paths import DEFAULT_CLASSIFIER
from glass_perception.core.scoring import Tally, score_frame
from glass_perception.core.synthetic import DETECTOR_NAME, render_scene

FRESH_SEED = 4242


@pytest.fixture(scope="module")
def classifier():
    return GlassClassifier(DEFAULT_CLASSIFIER)


def test_classifier_on_fresh_synthetic_crops(classifier):
    report = evaluate_crops(classifier, synthetic_samples(FRESH_SEED, 60, 96, classifier.meta.crop_padding))
    assert report["samples"] >= 120
    # the model card's target is 95% per class on 300 scenes; 60 scenes (~50 crops a class) get a margin
    for name, r in report["per_class"].items():
        assert r["accuracy"] >= 0.88, f"{name}: {r['accuracy']:.3f} on {r['samples']} fresh crops"
    assert report["accuracy"] >= 0.92


def test_detector_finds_the_generators_glasses_on_fresh_scenes():
    det = Detector("", "cpu", 320)
    tally = Tally()
    for i in range(40):
        scene = render_scene(FRESH_SEED, 500 + i)
        truth = [(o.box, DETECTOR_NAME[o.kind]) for o in scene.objects if o.kind in ("cup", "beer_glass", "soju_glass")]
        found = [(d.box, d.class_name) for d in det.detect(scene.image, 0.35, 0.5, 50)]
        tally.add(score_frame(truth, found))
    assert tally.total >= 50
    assert tally.accuracy >= 0.85, f"{tally.correct}/{tally.total} found with the right COCO name, {tally.missed} missed"
