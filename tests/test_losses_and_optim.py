"""Class weights, the weighted cross-entropy and the learning-rate schedules against direct computations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hmtl_jax.config.defaults import base_config
from hmtl_jax.data.affectnet_labels import AFFECTNET8_TRAIN_COUNTS, CLASS_NAMES
from hmtl_jax.training.emotion_loss import class_weights_from_labels, emotion_loss
from hmtl_jax.training.optimizer import create_learning_rate_schedule, create_optimizer

PAPER_WEIGHTS = (1.8, 1.0, 5.28, 9.54, 21.08, 35.34, 5.4, 35.85)


def test_class_weights_reproduce_the_papers_affectnet_weights():
    labels = np.repeat(np.arange(8), AFFECTNET8_TRAIN_COUNTS)
    weights = class_weights_from_labels(labels, CLASS_NAMES)
    np.testing.assert_allclose(weights, PAPER_WEIGHTS, atol=0.01)


def test_class_weights_refuse_a_missing_class():
    with pytest.raises(ValueError, match="but sad has no example"):
        class_weights_from_labels(np.array([0, 1, 1]), ("neutral", "happy", "sad"))


def test_weighted_smoothed_cross_entropy_matches_numpy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 4)).astype(np.float32)
    labels = np.array([0, 1, 2, 3, 1, 0])
    weights = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    smoothing = 0.1
    targets = np.eye(4)[labels] * (1 - smoothing) + smoothing / 4
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = np.mean(weights[labels] * -(targets * log_probs).sum(-1))
    got = emotion_loss(
        jnp.asarray(logits), jnp.asarray(labels), class_weights=jnp.asarray(weights), label_smoothing=smoothing
    )
    assert float(got) == pytest.approx(expected, rel=1e-5)


def _config(**schedule):
    config = base_config()
    config.optimizer.learning_rate = 1e-3
    config.schedule.update(schedule)
    return config


def test_step_schedule_divides_by_ten_at_epochs_15_and_40():
    lr = create_learning_rate_schedule(_config(name="step", decay_epochs=(15, 40)), steps_per_epoch=10, total_steps=800)
    assert float(lr(149)) == pytest.approx(1e-3)
    assert float(lr(151)) == pytest.approx(1e-4)
    assert float(lr(401)) == pytest.approx(1e-5)


def test_warmup_then_cosine():
    lr = create_learning_rate_schedule(_config(name="cosine", warmup_epochs=5), steps_per_epoch=10, total_steps=1000)
    assert float(lr(0)) == 0.0
    assert float(lr(25)) == pytest.approx(0.5e-3)
    assert float(lr(50)) == pytest.approx(1e-3)
    assert float(lr(1000)) == pytest.approx(0.0, abs=1e-9)
    # Between, the half cosine over the 950 decay steps: 1/5 and 4/5 of the way, lr = 1e-3 (1 +- cos 36 deg) / 2 with
    # cos 36 deg = (1 + sqrt 5) / 4, i.e. (5 + sqrt 5) / 8 and (3 - sqrt 5) / 8 of 1e-3 (a linear decay: 0.8 and 0.2).
    assert float(lr(50 + 190)) == pytest.approx(1e-3 * (5 + np.sqrt(5)) / 8, rel=1e-5)  # 0.905e-3
    assert float(lr(50 + 760)) == pytest.approx(1e-3 * (3 - np.sqrt(5)) / 8, rel=1e-5)  # 0.095e-3


def _textbook_steps(name, w, steps, lr, weight_decay, b1=0.9, b2=0.999, momentum=0.9):
    """The parameters after each of `steps` updates of sum(w**2), from each optimiser's published update rule:
    AdamW and AdaBelief with bias correction and decoupled weight decay, SGD with Nesterov momentum and L2 decay."""
    w = np.asarray(w, np.float64)
    first = second = trace = np.zeros_like(w)
    path = []
    for t in range(1, steps + 1):
        g = 2 * w
        if name == "sgd":
            g = g + weight_decay * w
            trace = g + momentum * trace
            w = w - lr * (g + momentum * trace)
        else:
            first = b1 * first + (1 - b1) * g
            # Adam tracks the squared gradient; AdaBelief the squared distance of the gradient from its average.
            second = b2 * second + (1 - b2) * (g**2 if name == "adamw" else (g - first) ** 2)
            eps = 1e-8 if name == "adamw" else 1e-16
            step = (first / (1 - b1**t)) / (np.sqrt(second / (1 - b2**t)) + eps)
            w = w - lr * (step + weight_decay * w)
        path.append(w)
    return path


@pytest.mark.parametrize("name", ["adamw", "sgd", "adabelief"])
def test_each_optimizer_reduces_a_quadratic(name):
    config = _config(name="constant")
    config.optimizer.name = name
    config.optimizer.learning_rate = 0.05
    config.optimizer.weight_decay = 0.1  # large enough to see whether and where it is applied
    tx, _ = create_optimizer(config, steps_per_epoch=1, total_steps=100)
    params = {"w": jnp.array([3.0, -2.0])}
    state = tx.init(params)
    loss = lambda p: jnp.sum(p["w"] ** 2)  # noqa: E731
    path = []
    for _ in range(50):
        grads = jax.grad(loss)(params)
        updates, state = tx.update(grads, state, params)
        params = jax.tree.map(lambda p, u: p + u, params, updates)
        path.append(np.asarray(params["w"]))
    assert float(loss(params)) < 0.5 * 13.0
    # The named optimiser and no other: the first steps follow its own update rule (AdamW's first step is
    # lr * sign(g), AdaBelief's lr * sign(g) / 0.9, SGD's lr * 1.9 * g, so any other optimiser is far off).
    np.testing.assert_allclose(path[:5], _textbook_steps(name, [3.0, -2.0], 5, 0.05, 0.1), rtol=1e-5)


def test_unknown_optimizer_is_a_clear_error():
    config = _config(name="constant")
    config.optimizer.name = "lamb"
    with pytest.raises(ValueError, match="adamw"):
        create_optimizer(config, 1, 1)
