"""The model workflow end to end, small enough for CI: synthesise, train, resume, evaluate, load."""
from __future__ import annotations

import json

import numpy as np

from glass_perception.core.classifier import GlassClassifier
from glass_perception.core.synthetic import CLASSES
from glass_perception.tools import evaluate, synth, train


def test_synth_train_resume_evaluate_and_load_like_the_node(tmp_path):
    for split, seed, scenes in (("train", 501, 16), ("val", 502, 6)):
        assert synth.main(["classify", "--out", str(tmp_path / split), "--seed", str(seed),
                           "--scenes", str(scenes), "--crop-size", "48", "--renderer", "pbr", "--quality", "preview",
                           "--width", "200", "--height", "150"]) == 0
    for c in CLASSES:
        assert list((tmp_path / "train" / c).glob("*.png")), f"no {c} crops rendered"

    out = tmp_path / "models" / "tiny.v1"      # a dotted stem must not confuse the file names
    common = ["--data", str(tmp_path / "train"), "--val-data", str(tmp_path / "val"), "--out", str(out),
              "--init", "scratch", "--no-freeze-backbone", "--input-size", "48", "--batch-size", "16",
              "--workers", "0", "--lr", "1e-3", "--rotation", "10"]
    assert train.main(common + ["--epochs", "1"]) == 0
    weights, meta = out.parent / "tiny.v1.safetensors", out.parent / "tiny.v1.json"
    history = json.loads((out.parent / "tiny.v1.history.json").read_text())
    assert len(history["epochs"]) == 1 and len(history["steps"]) >= 1
    assert (out.parent / "tiny.v1.history.png").stat().st_size > 1000
    assert (out.parent / "tiny.v1.history.csv").read_text().startswith("epoch,")
    assert json.loads(meta.read_text())["class_names"] == sorted(CLASSES)

    # resume continues from the saved state instead of starting over
    assert train.main(common + ["--epochs", "2", "--resume"]) == 0
    history = json.loads((out.parent / "tiny.v1.history.json").read_text())
    assert [e["epoch"] for e in history["epochs"]] == [1, 2]

    # the classifier node's own loading code takes the checkpoint
    clf = GlassClassifier(weights)
    probs = clf.predict([np.zeros((48, 48, 3), np.uint8), np.full((96, 96, 3), 200, np.uint8)])
    assert probs.shape == (2, 3) and np.allclose(probs.sum(1), 1.0, atol=1e-5)

    report_base = tmp_path / "report"
    assert evaluate.main(["--model", str(weights), "--data", str(tmp_path / "val"), "--out", str(report_base)]) == 0
    report = json.loads(report_base.with_suffix(".json").read_text())
    assert report["samples"] == sum(len(list((tmp_path / "val" / c).glob("*.png"))) for c in CLASSES)
    assert set(report["per_class"]) == set(CLASSES)
    assert np.asarray(report["confusion_matrix"]).sum() == report["samples"]
    assert report_base.with_suffix(".png").stat().st_size > 1000


def test_training_offline_from_imagenet_says_what_to_do(tmp_path, capsys):
    synth.main(["classify", "--out", str(tmp_path / "d"), "--seed", "503", "--scenes", "4", "--crop-size", "32", "--renderer", "fast"])
    code = train.main(["--data", str(tmp_path / "d"), "--out", str(tmp_path / "m"), "--init", "imagenet",
                       "--epochs", "1", "--workers", "0", "--input-size", "32"])
    err = capsys.readouterr().err
    if code == 0:   # a connected machine downloaded the weights: that is the real path working
        return
    assert code == 2 and "--init scratch" in err
