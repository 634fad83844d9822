"""HMTL runs end to end: task metrics and pictures, exact resumption with pretext randomness, the permutation set
kept with the run, evaluation by the emotion head alone, and clear errors for impossible task settings."""

import importlib.util
import os

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
import pytest
from PIL import Image

from hmtl_jax.config.defaults import base_config
from hmtl_jax.config.validation import check_config
from hmtl_jax.data.input_pipeline import iterate_eval_batches
from hmtl_jax.data.sources import create_sources
from hmtl_jax.pretext.jigsaw import hamming_permutation_set
from hmtl_jax.pretext.permutation_set import permutation_set
from hmtl_jax.runtime import sharding
from hmtl_jax.training.jitted import jit_training
from hmtl_jax.training.loop import train_and_evaluate
from tests.helpers import REPO, read_metrics, saved_state, tiny_config

HMTL = {"data.image_size": 48, "jigsaw.weight": 1.0, "inpaint.weight": 1.0, "jigsaw.num_permutations": 24}


@pytest.fixture(scope="module")
def hmtl_run(tmp_path_factory, cache_dir):
    """(workdir, summary) of one uninterrupted HMTL run, which two tests read."""
    workdir = str(tmp_path_factory.mktemp("hmtl"))
    return workdir, train_and_evaluate(tiny_config(cache_dir, **HMTL), workdir)


@pytest.mark.slow
def test_hmtl_run_logs_each_task_and_draws_the_pretext_views(hmtl_run):
    workdir, summary = hmtl_run
    assert 0.0 <= summary["accuracy"] <= 1.0
    train_records = [r for r in read_metrics(workdir) if "train/loss" in r]
    for key in ("train/emotion_loss", "train/jigsaw_loss", "train/jigsaw_accuracy", "train/pixel_loss"):
        assert all(np.isfinite(r[key]) for r in train_records), key
    np.testing.assert_array_equal(
        np.loadtxt(os.path.join(workdir, "jigsaw_permutations.txt"), dtype=np.int32),
        hamming_permutation_set(3, 24, seed=0),
    )
    picture = np.asarray(Image.open(os.path.join(workdir, "pretext_views.png")))
    assert picture.shape[0] == 3 * (96 + 2), "rows: clean, pretext view, reconstruction"
    rows = [picture[r * 98 : r * 98 + 96, 110:] for r in range(3)]
    assert not np.array_equal(rows[0], rows[1]) and not np.array_equal(rows[1], rows[2])
    events = os.listdir(os.path.join(workdir, "tensorboard"))
    assert events and os.path.getsize(os.path.join(workdir, "tensorboard", events[0])) > 50_000  # holds images


@pytest.mark.slow
def test_hmtl_resumes_to_the_same_state_as_an_uninterrupted_run(tmp_path, cache_dir, hmtl_run):
    straight, resumed = hmtl_run[0], str(tmp_path / "resumed")
    train_and_evaluate(tiny_config(cache_dir, stop_at_step=3, **HMTL), resumed)
    train_and_evaluate(tiny_config(cache_dir, **HMTL), resumed)
    a = ocp.tree.to_flat_dict(saved_state(straight, 8))
    b = ocp.tree.to_flat_dict(saved_state(resumed, 8))
    assert a.keys() == b.keys() and any("decoder" in str(k) for k in a)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=str(key))


@pytest.mark.slow
def test_resuming_with_another_permutation_set_is_refused(tmp_path):
    workdir = str(tmp_path / "run")
    train_and_evaluate(tiny_config(stop_at_step=1, **HMTL), workdir)
    other_set = {"jigsaw.permutation_seed": 1}
    with pytest.raises(ValueError, match=r"other settings: jigsaw.permutation_seed 0 -> 1\."):
        train_and_evaluate(tiny_config(**HMTL, **other_set), workdir)
    # Even a deliberate change may not give the trained jigsaw head's classes other meanings.
    with pytest.raises(ValueError, match="another permutation set"):
        train_and_evaluate(tiny_config(**HMTL, **other_set, resume_policy="changed"), workdir)


def test_evaluation_uses_the_emotion_head_alone(tmp_path):
    """Scrambling the pretext heads' parameters changes no validation figure: they cost nothing at inference."""
    config = tiny_config(**HMTL)
    mesh = sharding.create_mesh()
    jitted = jit_training(config, mesh, 8, 4, None, permutation_set(config))
    state = jitted.init(jax.random.key(0))
    _, val_source, _ = create_sources(config.data)

    def evaluation(state):
        """Per validation batch: the summed cross-entropy of the logits (any change of a logit shows) and the
        confusion matrix."""
        out = []
        for batch in iterate_eval_batches(val_source, config):
            metrics = jitted.eval_step(state, sharding.make_global_batch(batch, mesh))
            out.append((np.asarray(metrics.loss.total), np.asarray(metrics.loss.count), metrics.compute()["confusion"]))
        return out

    def scrambled(heads):
        def scramble(path, param):
            return param * -3.0 + 1.0 if any(getattr(k, "key", None) in heads for k in path) else param

        return state.replace(params=jax.tree_util.tree_map_with_path(scramble, state.params))

    pretext_scrambled = scrambled(("jigsaw", "decoder"))
    before, after = ocp.tree.to_flat_dict(state.params), ocp.tree.to_flat_dict(pretext_scrambled.params)
    changed = {key for key in before if not np.array_equal(before[key], after[key])}
    in_pretext = {key for key in before if key[0] in ("jigsaw", "decoder")}
    assert changed == in_pretext and {key[0] for key in changed} == {"jigsaw", "decoder"}  # every pretext parameter

    reference = evaluation(state)
    for (loss, count, confusion), (loss_b, count_b, confusion_b) in zip(
        reference, evaluation(pretext_scrambled), strict=True
    ):
        assert loss == loss_b and count == count_b  # bit for bit
        np.testing.assert_array_equal(confusion, confusion_b)
    # The comparison sees a change of the emotion head's parameters.
    assert [r[0] for r in evaluation(scrambled(("head",)))] != [r[0] for r in reference]


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"data.image_size": 64, "jigsaw.weight": 1.0}, r"3x3 jigsaw cannot cut 64-pixel images.*63 or 66"),
        ({"data.image_size": 48, "jigsaw.weight": 1.0, "jigsaw.permutations": "uniform"}, "target='per_tile'"),
        ({"data.image_size": 48, "jigsaw.weight": 1.0, "jigsaw.grid": 4}, "at most a 3 x 3 grid"),
        ({"loss.emotion_weight": 0.0}, "every loss weight is 0"),
        ({"inpaint.weight": -1.0}, "must be >= 0"),
        ({"inpaint.weight": 1.0, "inpaint.mask_ratio": 0.0}, "mask_ratio"),
        ({"pretext.combine": "sequential"}, "pretext.combine"),
    ],
)
def test_impossible_task_settings_fail_at_start(overrides, message):
    with pytest.raises(ValueError, match=message):
        check_config(tiny_config(**overrides))


# What each shipped SL config sets, written out (every other key is base_config's default): the paper's recipe
# (docs/PAPER.md) for AffectNet, the CPU-sized comparison for the synthetic faces.
SL_RECIPES = {
    "affectnet": {
        "data.name": "affectnet/8class",
        "data.data_dir": "~/tensorflow_datasets",
        "data.eval_split": "validation",
        "data.image_size": 224,
        "input.augment": "weak",
        "input.flip": False,
        "input.worker_count": 8,
        "model.name": "efficientnet_b0",
        "model.dropout_rate": 0.3,
        "loss.class_weights": True,
        "optimizer.name": "adabelief",
        "optimizer.learning_rate": 1e-3,
        "schedule.name": "step",
        "schedule.decay_epochs": (15, 40),
        "schedule.decay_factor": 0.1,
        "batch_size": 32,
        "num_epochs": 80,
        "half_precision": True,
        "checkpoint_every_steps": 2000,
    },
    "synthetic": {
        "data.name": "synthetic_faces",
        "data.image_size": 48,
        "data.train_size": 6_000,
        "data.validation_size": 2_000,
        "data.in_memory": True,
        "input.augment": "none",
        "model.name": "resnet_tiny",
        "model.dropout_rate": 0.1,
        "optimizer.name": "adamw",
        "optimizer.learning_rate": 3e-3,
        "optimizer.weight_decay": 1e-4,
        "schedule.name": "cosine",
        "batch_size": 64,
        "num_epochs": 10,
        "log_every_steps": 50,
        "eval_every_epochs": 5,
        "checkpoint_every_steps": 500,
    },
}
# How each other variant differs from its data set's SL config, written out: its tasks' weights, and the
# settings a task needs (225 px for 3 whole jigsaw tiles; AffectNet's in-painting adds the VGG-16 loss).
# Everything else (data, seed, model, optimiser, schedule, loss, input, budget) must be the SL config's.
SYNTHETIC_DESIGN = {
    "pretext.emotion_view": "clean",
    "pretext.batch_norm": "separate",
    "inpaint.skip_connections": False,
}
VGG16 = {"inpaint.perceptual_network": "vgg16", "inpaint.perceptual_weights": "~/.cache/hmtl_jax/vgg16-397923af.pth"}
TASK_DIFFERENCES = {
    "affectnet": {
        "puzzle": {"jigsaw.weight": 1.0, "data.image_size": 225},
        "inpaint": {"inpaint.weight": 1.0, **VGG16},
        "hmtl": {"jigsaw.weight": 1.0, "data.image_size": 225, "inpaint.weight": 1.0, **VGG16},
    },
    "synthetic": {  # plus the design chosen on the synthetic validation faces (docs/RESULTS.md)
        "puzzle": {"jigsaw.weight": 1.0, **SYNTHETIC_DESIGN},
        "inpaint": {"inpaint.weight": 1.0, **SYNTHETIC_DESIGN},
        "hmtl": {"jigsaw.weight": 1.0, "inpaint.weight": 1.0, **SYNTHETIC_DESIGN},
    },
}


def _flat(config) -> dict:
    """{"section.key": value} of every setting, tuples for sequences (so written-out values compare)."""
    out = {}
    for key, value in config.items():
        if isinstance(value, ml_collections.ConfigDict):
            out.update({f"{key}.{k}": v for k, v in _flat(value).items()})
        else:
            out[key] = tuple(value) if isinstance(value, list) else value
    return out


def _differences(config, reference) -> dict:
    flat, ref = _flat(config), _flat(reference)
    assert flat.keys() == ref.keys()
    return {k: v for k, v in flat.items() if v != ref[k]}


def _load(dataset, variant):
    path = os.path.join(REPO, "configs", f"{dataset}_{variant}.py")
    spec = importlib.util.spec_from_file_location(f"{dataset}_{variant}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config()


@pytest.mark.parametrize("name", ["sl", "puzzle", "inpaint", "hmtl"])
@pytest.mark.parametrize("dataset", ["synthetic", "affectnet"])
def test_shipped_configs_are_valid_and_differ_only_in_their_tasks(name, dataset, tmp_path):
    config, sl = _load(dataset, name), _load(dataset, "sl")
    assert (config.jigsaw.weight > 0) == (name in ("puzzle", "hmtl"))
    assert (config.inpaint.weight > 0) == (name in ("inpaint", "hmtl"))
    if name == "sl":
        # The reference itself: its recipe's settings, and base_config's default for every other key (seed, data
        # subset, pretext tasks off, ...). A key the recipe sets to the default's value is no difference.
        recipe = SL_RECIPES[dataset]
        assert {k: _flat(config)[k] for k in recipe} == recipe
        assert _differences(config, base_config()).keys() <= recipe.keys()
    else:
        assert _differences(config, sl) == TASK_DIFFERENCES[dataset][name]
    for section in ("model", "optimizer", "schedule", "loss", "input"):
        assert config[section].to_dict() == sl[section].to_dict(), section
    assert (config.num_epochs, config.batch_size) == (sl.num_epochs, sl.batch_size)
    if config.inpaint.perceptual_network == "vgg16":
        weights = tmp_path / "vgg16.pth"
        weights.write_bytes(b"")  # existence is what the start-up check looks at
        config.unlock()
        config.inpaint.perceptual_weights = str(weights)
    check_config(config)


@pytest.mark.parametrize("task", ["gender", "head_pose"])
@pytest.mark.parametrize("name", ["sl", "hmtl"])
def test_the_synthetic_gender_and_head_pose_configs_differ_from_emotions_only_in_their_task(task, name):
    config = _load(f"synthetic_{task}", name)
    assert _differences(config, _load("synthetic", name)) == {"task": task}
    check_config(config)


@pytest.mark.parametrize("dataset", ["celeba", "pose_300w_lp"])
def test_the_gender_and_head_pose_hmtl_configs_differ_from_their_sl_only_in_their_tasks(dataset):
    config, sl = _load(dataset, "hmtl"), _load(dataset, "sl")
    tasks = {"jigsaw.weight": 1.0, "data.image_size": 225, "inpaint.weight": 1.0, **SYNTHETIC_DESIGN}
    assert _differences(config, sl) == tasks
    check_config(sl)
    check_config(config)


# The two-stage recipe HMTL is compared with: the pretext task alone (labels unused) for half of SL's epochs, then SL
# for the other half from the pre-training's workdir. Everything else is the synthetic SL config's.
TWO_STAGE_DIFFERENCES = {
    "pretrain_puzzle": {"jigsaw.weight": 1.0, "loss.emotion_weight": 0.0, "num_epochs": 5},
    "pretrain_inpaint": {
        "inpaint.weight": 1.0,
        "inpaint.skip_connections": False,
        "loss.emotion_weight": 0.0,
        "num_epochs": 5,
    },
    "finetune_puzzle": {"num_epochs": 5, "init_from": "workdirs/synthetic_pretrain_puzzle"},
    "finetune_inpaint": {"num_epochs": 5, "init_from": "workdirs/synthetic_pretrain_inpaint"},
}


@pytest.mark.parametrize("name", TWO_STAGE_DIFFERENCES)
def test_the_two_stage_configs_differ_from_sl_only_in_their_stage(name):
    config = _load("synthetic", name)
    assert _differences(config, _load("synthetic", "sl")) == TWO_STAGE_DIFFERENCES[name]
    if name.startswith("pretrain"):
        check_config(config)
    else:  # before its pre-training has run, the fine-tuning says what it needs
        with pytest.raises(ValueError, match="config.init_from=workdirs/synthetic_pretrain_.* does not exist"):
            check_config(config)
