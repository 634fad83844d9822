"""A prepared data set trains end to end: AffectNet's official format, prepared from a fixture, read back through
Grain by configs/affectnet_hmtl.py (scaled down); a stratified fraction with class-balanced sampling; and head pose,
trained on 300W-LP and evaluated on AFLW2000 by configs/pose_300w_lp_sl.py (scaled down)."""

import json
import os

import numpy as np
import pytest

from data_pipelines.prepare import prepare
from hmtl_jax.config.overrides import load_config
from hmtl_jax.data.input_pipeline import create_train_iterator
from hmtl_jax.data.sources import create_sources
from hmtl_jax.training.loop import train_and_evaluate
from tests import data_fixtures as fx
from tests.helpers import REPO, tiny_config


@pytest.fixture(scope="module")
def affectnet_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("affectnet_e2e")
    expected = fx.write_affectnet_official(str(root / "manual"), {"train": 4, "validation": 2})
    _, _, name = prepare("affectnet", str(root / "manual"), str(root / "prepared"), threads=2)
    return {"data_dir": str(root / "prepared"), "name": name, "expected": expected}


def _data(prepared, **more):
    return {"data.name": prepared["name"], "data.data_dir": prepared["data_dir"], **more}


@pytest.mark.slow
def test_the_affectnet_hmtl_config_trains_on_prepared_affectnet(tmp_path, cache_dir, affectnet_dir):
    # configs/affectnet_hmtl.py as it is (its data keys, class weights, AdaBelief, step schedule, jigsaw and
    # in-painting), scaled to a CPU test: a tiny model at 48 px, no VGG weights (not shipped), no bf16.
    small = {
        "model.name": "resnet_tiny",
        "data.image_size": 48,
        "jigsaw.num_permutations": 24,
        "batch_size": 16,
        "num_epochs": 2,
        "half_precision": False,
        "inpaint.perceptual_network": "none",
        "input.worker_count": 0,
        "compilation_cache_dir": cache_dir,
        "data.data_dir": affectnet_dir["data_dir"],
    }
    config = load_config(os.path.join(REPO, "configs", "affectnet_hmtl.py"), [f"{k}={v!r}" for k, v in small.items()])
    assert config.data.name == affectnet_dir["name"] and config.loss.class_weights
    summary = train_and_evaluate(config, str(tmp_path))
    assert 0.0 <= summary["accuracy"] <= 1.0 and np.isfinite(summary["loss"])
    with open(tmp_path / "eval_latest.json") as f:
        confusion = np.asarray(json.load(f)["confusion"])
    validation = affectnet_dir["expected"]["written"]["validation"]
    np.testing.assert_array_equal(confusion.sum(axis=1), [validation[c] for c in range(8)])  # every record, once
    assert os.path.exists(tmp_path / "pretext_views.png")


@pytest.mark.slow
def test_a_fraction_with_balanced_sampling_trains(tmp_path, cache_dir, affectnet_dir):
    config = tiny_config(
        cache_dir, **_data(affectnet_dir, **{"data.train_fraction": 0.5, "data.sampling": "balanced"}), num_epochs=1
    )
    train_and_evaluate(config, str(tmp_path))
    records = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")]
    # 37 train records -> 18 in the stratified half (2 of each class's 4, 4 of happy's 9): one step of 16
    assert max(r["step"] for r in records) == 1

    # The train stream this config gives the run (the calls train_and_evaluate makes, over more epochs) draws the
    # classes equally often from the half: shuffling would give happy 4/18 = 0.22 of the draws and the others 0.11.
    train, _, _ = create_sources(config.data)
    half = np.bincount(train.labels(), minlength=8)
    np.testing.assert_array_equal(half, [2, 4, 2, 2, 2, 2, 2, 2])
    epochs = 40
    iterator = create_train_iterator(train, config, num_epochs=epochs)
    labels = np.concatenate([next(iterator)["label"] for _ in range(len(train) * epochs // config.batch_size)])
    np.testing.assert_allclose(np.bincount(labels, minlength=8) / len(labels), 1 / 8, atol=0.03)


@pytest.mark.slow
def test_the_head_pose_config_trains_on_300w_lp_and_evaluates_on_aflw2000(tmp_path, cache_dir):
    data_dir = str(tmp_path / "prepared")
    for release in ("pose_300w_lp", "pose_aflw2000"):
        fx.write_head_pose(str(tmp_path / release), release)
        prepare(release, str(tmp_path / release), data_dir, threads=2)
    small = {
        "model.name": "resnet_tiny",
        "data.image_size": 32,
        "data.train_fraction": 0.6,  # head pose has no classes: a random 60 % of the 15 faces
        "batch_size": 8,
        "num_epochs": 2,
        "half_precision": False,
        "input.worker_count": 0,
        "compilation_cache_dir": cache_dir,
        "data.data_dir": data_dir,
    }
    config = load_config(os.path.join(REPO, "configs", "pose_300w_lp_sl.py"), [f"{k}={v!r}" for k, v in small.items()])
    summary = train_and_evaluate(config, str(tmp_path / "run"))
    assert set(summary) == {"loss", "mean_mae", "yaw_mae", "pitch_mae", "roll_mae"}
    # The fixture faces are identical crops with angles of 1 to 60 degrees: an untrained model errs by degrees.
    assert all(0.5 < summary[f"{angle}_mae"] < 99 for angle in ("yaw", "pitch", "roll"))
    with open(tmp_path / "run" / "data.json") as f:
        data = json.load(f)
    assert (data["train_records"], data["validation_records"]) == (9, 8)  # 60 % of 300W-LP's 15; AFLW2000's 8
    assert data["class_names"] == ["yaw", "pitch", "roll"]
