"""The joint train step: each loss trains the shared backbone, zero weights give the SL step, and 8 devices
compute what 1 device does."""

import jax
import numpy as np
import pytest

from hmtl_jax.runtime import sharding
from tests.helpers import (
    backbone_grad_norm,
    evaluate_once,
    jitted_for,
    one_loss_and_grads,
    random_batch,
    run_steps,
    tiny_config,
)

HMTL = {"data.image_size": 48, "jigsaw.weight": 1.0, "inpaint.weight": 1.0}


def test_with_both_auxiliary_weights_zero_the_step_is_the_sl_step():
    one = jax.devices()[:1]  # the comparison is of the steps' arithmetic; the sharded steps are tested below
    sl_state, sl_history = run_steps(tiny_config(**{"data.image_size": 48}), devices=one)
    # Every pretext setting changed, only the weights at 0: nothing of the tasks may leak into the step.
    off = tiny_config(
        **{
            "data.image_size": 48,
            "jigsaw.weight": 0.0,
            "inpaint.weight": 0.0,
            "jigsaw.target": "per_tile",
            "inpaint.mask_shape": "grid",
            "pretext.emotion_view": "clean",
            "pretext.combine": "split",
        }
    )
    off_state, off_history = run_steps(off, devices=one)
    assert [h["loss"] for h in off_history] == [h["loss"] for h in sl_history]
    jax.tree.map(np.testing.assert_array_equal, off_state.params, sl_state.params)
    jax.tree.map(np.testing.assert_array_equal, off_state.batch_stats, sl_state.batch_stats)


@pytest.mark.parametrize(
    "task",
    [
        {"jigsaw.weight": 1.0},
        {"jigsaw.weight": 1.0, "jigsaw.target": "per_tile", "jigsaw.permutations": "uniform"},
        {"inpaint.weight": 1.0},
        {
            "inpaint.weight": 1.0,
            "inpaint.mask_shape": "face_bands",
            "inpaint.loss_region": "whole",
            "inpaint.pixel_loss": "l2",
        },
    ],
)
def test_each_pretext_loss_alone_sends_gradient_into_the_shared_backbone(task):
    # Emotion weight 0: the only gradient the backbone gets is the pretext task's.
    norm, scalars, grads = backbone_grad_norm(
        tiny_config(**{"data.image_size": 48, "loss.emotion_weight": 0.0, **task})
    )
    assert norm > 1e-4, f"no gradient reached the backbone from {task}"
    assert np.all(np.asarray(grads["head"]["dense"]["kernel"]) == 0), "the emotion head has weight 0"
    # The task's own loss, and not the other task's: the gradient is the named task's.
    own, other = ("jigsaw_loss", "pixel_loss") if "jigsaw.weight" in task else ("pixel_loss", "jigsaw_loss")
    assert own in scalars and other not in scalars, scalars
    assert np.isfinite(scalars[own]) and scalars[own] > 0


@pytest.mark.parametrize("combine,view", [("compose", "pretext"), ("split", "clean")])
def test_joint_step_on_eight_devices_matches_one_device(combine, view):
    # SGD: Adam would turn float noise in near-zero gradients (a dead decoder channel) into full-size updates.
    config = tiny_config(
        **HMTL,
        **{
            "pretext.combine": combine,
            "pretext.emotion_view": view,
            "optimizer.name": "sgd",
            "optimizer.learning_rate": 0.05,
        },
    )
    one_state, one = run_steps(config, 3, jax.devices()[:1])
    eight_state, eight = run_steps(config, 3, jax.devices())
    for a, b in zip(one, eight, strict=True):
        assert a.keys() == b.keys() >= {"emotion_loss", "jigsaw_loss", "jigsaw_accuracy", "pixel_loss"}
        for key in a:
            np.testing.assert_allclose(a[key], b[key], rtol=2e-4, atol=1e-6, err_msg=key)
    jax.tree.map(
        lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-3, atol=1e-5), one_state.params, eight_state.params
    )


def test_total_loss_is_the_weighted_sum_of_the_task_losses():
    config = tiny_config(**{**HMTL, "loss.emotion_weight": 0.5, "jigsaw.weight": 2.0, "inpaint.weight": 3.0})
    mesh, jitted = jitted_for(config, jax.devices()[:1])
    state = jitted.init(jax.random.key(0))
    batch = random_batch(0)
    # What the train step computes: the total, the emotion logits and each task's loss of one forward pass.
    (loss, (logits, scalars, _)), _ = one_loss_and_grads(
        jitted, state, sharding.make_global_batch(batch, mesh), jax.random.key(1)
    )
    first = {k: float(v) for k, v in scalars.items()}
    # The emotion part recomputed here from the logits: mean cross-entropy of the labels, in float64.
    logits = np.asarray(logits, np.float64)
    log_probs = logits - logits.max(-1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(-1, keepdims=True))
    emotion_ce = -np.mean(log_probs[np.arange(len(batch["label"])), batch["label"]])
    assert first["emotion_loss"] == pytest.approx(emotion_ce, rel=1e-6)
    expected = 0.5 * emotion_ce + 2.0 * first["jigsaw_loss"] + 3.0 * first["pixel_loss"]
    assert float(loss) == pytest.approx(expected, rel=1e-6)
    # An untrained jigsaw head is close to uniform over the 100 permutations.
    assert first["jigsaw_loss"] == pytest.approx(np.log(100), rel=0.2)


@pytest.mark.parametrize("batch_norm", ["separate", "joint"])
def test_separate_batch_norm_keeps_running_statistics_of_clean_images_only(batch_norm):
    from flax import nnx

    from hmtl_jax.models.from_config import to_model_input

    config = tiny_config(**{**HMTL, "pretext.emotion_view": "clean", "pretext.batch_norm": batch_norm})
    mesh, jitted = jitted_for(config, jax.devices()[:1])
    state = jitted.init(jax.random.key(0))
    batch = sharding.make_global_batch(random_batch(0), mesh)
    (_, (_, _, new_statistics)), _ = one_loss_and_grads(jitted, state, batch, jax.random.key(1))

    def clean_pass(params, batch_stats, images):
        """What one training-mode pass over the clean images alone leaves in the running statistics."""
        model = nnx.merge(jitted.graphdef, params, batch_stats)
        model.train()
        model.features(to_model_input(images, np.float32))
        return nnx.state(model, nnx.BatchStat)

    clean_only = evaluate_once(clean_pass, state.params, state.batch_stats, batch["image"])
    new_statistics, clean_only = jax.device_get((new_statistics, clean_only))
    pairs = zip(jax.tree.leaves(new_statistics), jax.tree.leaves(clean_only), strict=True)
    differences = [float(np.max(np.abs(a - b))) for a, b in pairs]
    if batch_norm == "separate":
        assert max(differences) < 1e-5, "the masked and puzzled images leaked into the running statistics"
    else:  # the control: one pass over both kinds of image mixes them
        assert max(differences) > 1e-3


def test_with_both_views_the_emotion_loss_is_the_mean_of_the_clean_and_the_pretext_views():
    from flax import nnx

    from hmtl_jax.models.from_config import to_model_input
    from hmtl_jax.pretext.views import build_views
    from hmtl_jax.training.emotion_loss import emotion_loss

    settings = {**HMTL, "pretext.batch_norm": "separate", "model.dropout_rate": 0.0}
    rng = jax.random.key(1)
    losses = {}
    for view in ("clean", "both"):
        config = tiny_config(**settings, **{"pretext.emotion_view": view})
        mesh, jitted = jitted_for(config, jax.devices()[:1])
        state = jitted.init(jax.random.key(0))
        batch = sharding.make_global_batch(random_batch(0), mesh)
        (_, (_, scalars, _)), _ = one_loss_and_grads(jitted, state, batch, rng)
        losses[view] = float(scalars["emotion_loss"])

    def pretext_view_loss(params, batch_stats, batch):
        """The pretext view's loss recomputed: the same views (same key), one training-mode pass over them alone."""
        images = to_model_input(batch["image"], np.float32)
        views = build_views(images, jax.random.fold_in(rng, 1), jitted.spec.pretext, jitted.spec.permutation_set)
        model = nnx.merge(jitted.graphdef, params, batch_stats)
        model.train()
        return emotion_loss(model.head(model.features(views["view"])[-1]), batch["label"])

    view_loss = float(evaluate_once(pretext_view_loss, state.params, state.batch_stats, batch))
    assert losses["both"] == pytest.approx(0.5 * (losses["clean"] + view_loss), rel=1e-5)
    assert abs(view_loss - losses["clean"]) > 1e-3  # the two views really differ
