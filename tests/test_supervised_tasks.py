"""The supervised tasks besides emotion, gender and head pose: their labels, losses, metrics and records, from the
loss on known predictions to a run's figures in a sweep record and a results table."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from hmtl_jax.data.augment import TrainAugment
from hmtl_jax.data.sources import create_sources
from hmtl_jax.data.synthetic.faces import SyntheticFaces
from hmtl_jax.errors import ConfigError
from hmtl_jax.reporting.metrics import (
    SCORE_BINS,
    AbsoluteErrors,
    ScoreHistogram,
    roc_auc,
    summarize_errors,
)
from hmtl_jax.supervised import head_pose
from hmtl_jax.tools import sweep
from hmtl_jax.tools.results_tables import study_table
from hmtl_jax.training.loop import train_and_evaluate
from tests.helpers import read_metrics, tiny_config


def _peaked(angles, sharpness=50.0):
    """Head outputs whose bins put all their weight at `angles` (B, 3): a Gaussian bump over the bin centres."""
    distance = head_pose.BIN_CENTRES[None, None, :] - np.asarray(angles, np.float32)[:, :, None]
    return jnp.asarray((-(distance**2) / sharpness).reshape(len(angles), -1))


def test_head_pose_bins_cover_plus_minus_99_degrees_in_3_degree_steps():
    assert head_pose.NUM_BINS == 66 and head_pose.BIN_CENTRES[0] == -97.5 and head_pose.BIN_CENTRES[-1] == 97.5
    bins = head_pose.angle_bins(jnp.array([[-99.0, -0.5, 0.0], [2.9, 98.9, 120.0]]))
    np.testing.assert_array_equal(bins, [[0, 32, 33], [33, 65, 65]])


def test_head_pose_loss_is_smallest_for_the_true_angles_and_its_errors_are_degrees():
    rng = np.random.default_rng(0)
    angles = rng.uniform(-40, 40, (16, 3)).astype(np.float32)
    np.testing.assert_allclose(head_pose.predicted_angles(_peaked(angles)), angles, atol=0.05)
    right, right_errors = head_pose.head_pose_losses(_peaked(angles), jnp.asarray(angles))
    off = angles + np.array([10.0, 0.0, 0.0], np.float32)  # yaw 10 degrees off
    wrong, wrong_errors = head_pose.head_pose_losses(_peaked(off), jnp.asarray(angles))
    assert float(right_errors.max()) < 0.05
    np.testing.assert_allclose(wrong_errors[:, 0], 10.0, atol=0.05)
    np.testing.assert_allclose(wrong_errors[:, 1:], 0.0, atol=0.05)
    assert np.all(np.asarray(wrong) > np.asarray(right) + head_pose.REGRESSION_WEIGHT * 10 / 3 - 0.01)


def test_a_flip_mirrors_yaw_and_roll_exactly_when_the_image_is_flipped():
    image = np.zeros((32, 32, 3), np.uint8)
    image[:, :8] = 255  # bright left edge: a flipped image has it on the right
    angles = np.array([20.0, -7.0, 11.0], np.float32)
    augment = TrainAugment("none", 32, flip=True, mirror_label=head_pose.mirror)
    seen = set()
    for seed in range(12):
        out = augment.random_map({"image": image, "label": angles}, np.random.default_rng(seed))
        flipped = out["image"][:, -1].mean() > 128
        seen.add(flipped)
        expected = angles * np.array([-1, 1, -1], np.float32) if flipped else angles
        assert out["label"].dtype == np.float32
        np.testing.assert_array_equal(out["label"], expected)
    assert seen == {True, False}
    # Without a mirror (a class label), the label stays.
    plain = TrainAugment("none", 32, flip=True).random_map({"image": image, "label": 3}, np.random.default_rng(0))
    assert plain["label"] == 3 and plain["label"].dtype == np.int32


def test_roc_auc_from_the_score_histogram_matches_sklearn_over_padded_batches():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    logits = rng.normal(size=(300, 2)).astype(np.float32)
    logits[:, 1] += 1.2 * labels  # informative, far from 0.5 and 1
    logits[:40] = 0.0  # 40 exact ties at P = 0.5
    padded_labels = np.concatenate([labels, np.ones(20, np.int64)])
    padded_logits = np.concatenate([logits, np.tile([[0.0, 9.0]], (20, 1))]).astype(np.float32)  # confident padding
    mask = np.arange(320) < 300
    collected = None
    for start in range(0, 320, 64):
        part = slice(start, start + 64)
        update = ScoreHistogram.from_model_output(
            logits=jnp.asarray(padded_logits[part]),
            labels=jnp.asarray(padded_labels[part]),
            mask=jnp.asarray(mask[part]),
        )
        collected = update if collected is None else collected.merge(update)
    histogram = collected.compute()
    assert histogram.shape == (2, SCORE_BINS) and histogram.sum() == 300
    scores = jax.nn.softmax(logits, axis=-1)[:, 1]
    assert roc_auc(histogram) == pytest.approx(roc_auc_score(labels, scores), abs=2e-3)
    assert np.isnan(roc_auc(np.stack([histogram[0], 0 * histogram[1]])))  # one class only: undefined


def test_absolute_errors_average_each_angle_over_real_rows_only():
    errors = np.array([[1.0, 2.0, 3.0], [3.0, 4.0, 5.0], [100.0, 100.0, 100.0]], np.float32)
    metric = AbsoluteErrors.from_model_output(errors=jnp.asarray(errors), mask=jnp.array([1.0, 1.0, 0.0]))
    metric = metric.merge(AbsoluteErrors.from_model_output(errors=jnp.asarray(errors[:1]), mask=jnp.array([1.0])))
    np.testing.assert_allclose(metric.compute(), [5 / 3, 8 / 3, 11 / 3])
    summary = summarize_errors(metric.compute(), head_pose.ANGLES)
    assert summary == pytest.approx({"mean_mae": 8 / 3, "yaw_mae": 5 / 3, "pitch_mae": 8 / 3, "roll_mae": 11 / 3})


@pytest.mark.parametrize("task", ["gender", "head_pose"])
def test_synthetic_sources_carry_the_tasks_label_on_the_faces_emotion_trains_on(task):
    config = tiny_config(**{"task": task, "data.train_fraction": 0.5, "data.in_memory": True})
    train, validation, names = create_sources(config.data, task)
    emotion_train, _, _ = create_sources(config.data)
    assert names == (("female", "male") if task == "gender" else ("yaw", "pitch", "roll"))
    assert len(train) == len(emotion_train) == 32
    faces = SyntheticFaces("validation", 24, image_size=32)
    for index in (0, 5):
        face = faces[index]
        expected = [face["male"]] if task == "gender" else [face["yaw"], face["pitch"], face["roll"]]
        np.testing.assert_array_equal(np.atleast_1d(validation[index]["label"]), expected)
        np.testing.assert_array_equal(validation[index]["image"], face["image"])
    # The same faces as the emotion run's half (stratified by expression): the task changes only the label.
    for index in range(len(train)):
        np.testing.assert_array_equal(train[index]["image"], emotion_train[index]["image"])
    assert train.labels().shape == ((32,) if task == "gender" else (32, 3))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"task": "age"}, r"config.task='age' is not one of \('emotion', 'gender', 'head_pose'\)"),
        (
            {"task": "gender", "data.name": "rafdb_basic", "data.data_dir": "/x"},
            "is labelled for emotion, not config.task=.gender.: set --config.task=emotion",
        ),
        ({"data.name": "celeba", "data.data_dir": "/x"}, "is labelled for gender, not config.task='emotion'"),
        ({"task": "head_pose", "input.augment": "weak"}, "rotates the image, which changes its roll"),
        (
            {"task": "head_pose", "input.augment": "none", "loss.class_weights": True},
            "config.loss.class_weights weights classes",
        ),
        (
            {"task": "head_pose", "input.augment": "none", "data.sampling": "balanced"},
            "config.data.sampling balances classes",
        ),
    ],
)
def test_a_task_its_data_or_settings_cannot_serve_is_refused_at_start(tmp_path, overrides, message):
    with pytest.raises(ConfigError, match=message):
        train_and_evaluate(tiny_config(**overrides), str(tmp_path))
    assert not os.listdir(tmp_path)


@pytest.fixture(scope="module")
def head_pose_run(tmp_path_factory, cache_dir):
    """A tiny head pose run with the jigsaw task (the head pose loss on both views), test faces too, 2 epochs."""
    workdir = str(tmp_path_factory.mktemp("head_pose") / "run")
    overrides = {"task": "head_pose", "input.augment": "none", "data.test_size": 20, "jigsaw.weight": 1.0,
                 "jigsaw.grid": 2, "jigsaw.num_permutations": 10, "pretext.emotion_view": "both",
                 "preview_images": 0}  # fmt: skip
    return workdir, train_and_evaluate(tiny_config(cache_dir, **overrides), workdir)


@pytest.mark.slow
def test_a_head_pose_run_reports_each_angles_error_in_degrees(head_pose_run):
    workdir, summary = head_pose_run
    assert set(summary) == {"loss", "mean_mae", "yaw_mae", "pitch_mae", "roll_mae"}
    assert summary["mean_mae"] == pytest.approx(np.mean([summary[f"{a}_mae"] for a in head_pose.ANGLES]))
    # Untrained on 64 faces, the prediction sits near 0 degrees: errors of the order of the angles' spread.
    assert all(1.0 < summary[f"{a}_mae"] < 40.0 for a in head_pose.ANGLES)
    train = [r for r in read_metrics(workdir) if "train/mean_mae" in r]
    assert train and all(
        {"train/head_pose_loss", "train/jigsaw_loss", "train/jigsaw_accuracy"} <= set(r) for r in train
    )
    assert not any("train/accuracy" in r for r in train)
    with open(os.path.join(workdir, "test_latest.json")) as f:
        test = json.load(f)
    assert test["step"] == 8 and "confusion" not in test and test["mean_mae"] > 0
    assert not os.path.exists(os.path.join(workdir, "confusion_matrix.png"))


@pytest.mark.slow
def test_a_sweep_record_of_a_head_pose_run_keeps_its_errors_and_the_table_shows_degrees(head_pose_run):
    workdir, summary = head_pose_run
    record = sweep._record("pose", "configs/p.py", [], 0, 1.0, None, workdir, ["python", "-m", "x"], 1.0, None)
    assert record["task"] == "head_pose" and "val_accuracy" not in record
    assert record["val_mean_mae"] == summary["mean_mae"] and record["val_yaw_mae"] == summary["yaw_mae"]
    assert record["test_mean_mae"] > 0
    second = {**record, "seed": 1, "val_mean_mae": record["val_mean_mae"] + 2.0}
    lines = study_table([record, second]).splitlines()
    assert lines[0] == "| variant | 100% val MAE ° | 100% test MAE ° |"
    assert lines[2].startswith(f"| p | {summary['mean_mae'] + 1.0:.2f} ± 1.41 (2) | ")
    with pytest.raises(ValueError, match="share one task"):
        study_table([record, {**record, "task": "gender"}])


@pytest.mark.slow
def test_a_gender_run_reports_accuracy_and_roc_auc_and_the_table_both(tmp_path, cache_dir):
    workdir = str(tmp_path / "gender")
    summary = train_and_evaluate(tiny_config(cache_dir, task="gender", num_epochs=1), workdir)
    assert {"accuracy", "macro_f1", "roc_auc", "accuracy_female", "accuracy_male"} <= set(summary)
    assert 0.0 <= summary["roc_auc"] <= 1.0
    with open(os.path.join(workdir, "eval_latest.json")) as f:
        assert np.sum(json.load(f)["confusion"]) == 24  # every validation face once, padding excluded
    record = sweep._record("g", "configs/g.py", [], 0, 1.0, None, workdir, ["python", "-m", "x"], 1.0, None)
    assert record["task"] == "gender" and record["val_roc_auc"] == summary["roc_auc"]
    assert study_table([record]).splitlines()[0] == "| variant | 100% val | 100% val AUC |"
