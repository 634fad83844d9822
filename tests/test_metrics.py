"""Metrics agree with a direct computation (scikit-learn) on known predictions, including padding masks."""

import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    recall_score,
)

from hmtl_jax.reporting.confusion_image import CELL, HEADER, LABEL_WIDTH, render_confusion_matrix
from hmtl_jax.reporting.metrics import (
    EvalMetrics,
    summarize_confusion,
    train_metrics_class,
)

CLASSES = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt")


def _random_predictions(seed, n, num_classes=8):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, n)
    logits = rng.normal(size=(n, num_classes)).astype(np.float32)
    # Make most predictions right so the numbers are far from chance and a swapped axis would show.
    right = rng.random(n) < 0.6
    logits[right, labels[right]] += 5.0
    return labels, logits


def test_eval_metrics_match_sklearn_over_batches_with_padding():
    labels, logits = _random_predictions(0, 203)
    collected = None
    batch = 64
    for start in range(0, 256, batch):
        chunk_labels = np.zeros(batch, np.int32)
        chunk_logits = np.zeros((batch, 8), np.float32)
        real = max(0, min(batch, len(labels) - start))
        chunk_labels[:real] = labels[start : start + real]
        chunk_logits[:real] = logits[start : start + real]
        # Padding rows get confident wrong predictions: if the mask were ignored the numbers would move.
        chunk_logits[real:, 3] = 50.0
        mask = (np.arange(batch) < real).astype(np.float32)
        loss = np.full(batch, 2.0, np.float32)
        loss[real:] = 1000.0
        update = EvalMetrics.single_from_model_output(
            loss=jnp.asarray(loss),
            logits=jnp.asarray(chunk_logits),
            labels=jnp.asarray(chunk_labels),
            mask=jnp.asarray(mask),
        )
        collected = update if collected is None else collected.merge(update)
    computed = collected.compute()
    predicted = logits.argmax(-1)
    np.testing.assert_array_equal(computed["confusion"], confusion_matrix(labels, predicted, labels=range(8)))
    assert computed["loss"] == pytest.approx(2.0)
    summary = summarize_confusion(computed["confusion"], CLASSES)
    assert summary["accuracy"] == pytest.approx(accuracy_score(labels, predicted))
    assert summary["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(labels, predicted))
    assert summary["macro_f1"] == pytest.approx(f1_score(labels, predicted, average="macro"))
    per_class = recall_score(labels, predicted, average=None, labels=range(8))
    for name, value in zip(CLASSES, per_class, strict=True):
        assert summary[f"accuracy_{name}"] == pytest.approx(value)


def test_macro_f1_counts_a_never_predicted_class_as_zero():
    labels = np.array([0, 0, 1, 1])
    predicted = np.array([0, 0, 0, 0])  # the "only predicts neutral" failure
    confusion = confusion_matrix(labels, predicted, labels=range(8))
    summary = summarize_confusion(confusion, CLASSES)
    assert summary["macro_f1"] == pytest.approx(
        f1_score(labels, predicted, average="macro", labels=range(8), zero_division=0)
    )
    assert summary["accuracy_happy"] == 0.0


def test_train_metrics_average_loss_accuracy_and_task_scalars():
    labels, logits = _random_predictions(1, 32)
    metrics_class = train_metrics_class(("emotion_loss", "jigsaw_accuracy"))
    metrics = metrics_class.single_from_model_output(
        loss=jnp.asarray(0.5),
        logits=jnp.asarray(logits),
        labels=jnp.asarray(labels),
        emotion_loss=jnp.asarray(0.25),
        jigsaw_accuracy=jnp.asarray(0.0),
    ).merge(
        metrics_class.single_from_model_output(
            loss=jnp.asarray(1.5),
            logits=jnp.asarray(logits),
            labels=jnp.asarray(labels),
            emotion_loss=jnp.asarray(0.75),
            jigsaw_accuracy=jnp.asarray(1.0),
        )
    )
    computed = metrics.compute()
    assert computed["loss"] == pytest.approx(1.0)
    assert computed["emotion_loss"] == pytest.approx(0.5)
    assert computed["jigsaw_accuracy"] == pytest.approx(0.5)
    assert computed["accuracy"] == pytest.approx(accuracy_score(labels, logits.argmax(-1)))


def _cell_colours(image: np.ndarray, n: int) -> np.ndarray:
    """The fill colour of every cell (rows x columns x RGB): the median of its inside, which the count's text and
    the outline do not reach."""
    cells = np.zeros((n, n, 3))
    for i in range(n):
        for j in range(n):
            y, x = HEADER + i * CELL, LABEL_WIDTH + j * CELL
            cells[i, j] = np.median(image[y + 2 : y + CELL - 2, x + 2 : x + CELL - 2].reshape(-1, 3), axis=0)
    return cells


def _expected_colours(confusion: np.ndarray) -> np.ndarray:
    """White (share 0) to blue (share 1) by each cell's share of its row: rows are the true classes."""
    level = np.floor(255 * (1 - confusion / confusion.sum(axis=1, keepdims=True)))
    return np.stack([level, level, np.full_like(level, 255)], axis=-1)


def test_confusion_image_is_rgb_and_shows_the_diagonal():
    confusion = np.diag(np.arange(1, 9)) + 1
    image = render_confusion_matrix(confusion, CLASSES)
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    # Diagonal cells are the darkest blue: row share 1/2 or more vs 1/(n+7) off-diagonal.
    assert image.mean() < 250
    cells = _cell_colours(image, 8)
    np.testing.assert_allclose(cells, _expected_colours(confusion), atol=1)
    darkest = cells[..., 0].argmin(axis=1)
    np.testing.assert_array_equal(darkest, np.arange(8))  # every row's darkest cell is on the diagonal

    # A classifier that calls every class the next one: the dark cells leave the diagonal for (i, i + 1), so an
    # image drawn with rows and columns swapped, or from a column-normalised matrix, would not pass.
    shifted = (np.arange(8) + 1) % 8
    permuted = np.ones((8, 8), np.int64)
    permuted[np.arange(8), shifted] = np.arange(10, 18)
    permuted[0, 3] = 9  # a second confusion in one row only, so no row or column is like another
    permuted_image = render_confusion_matrix(permuted, CLASSES)
    assert not np.array_equal(permuted_image, image)
    permuted_cells = _cell_colours(permuted_image, 8)
    np.testing.assert_allclose(permuted_cells, _expected_colours(permuted), atol=1)
    np.testing.assert_array_equal(permuted_cells[..., 0].argmin(axis=1), shifted)
