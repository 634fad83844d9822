"""Metrics accumulated on device with clu, and what is derived from them on the host.

Evaluation of a classification keeps one confusion matrix (integer counts, padded examples masked out); accuracy,
macro-F1 and per-class accuracy all come from it, so they can never disagree with each other. A two-class task also
keeps a histogram of the second class's probability per true class, from which its ROC-AUC follows; head pose keeps
the sum of each angle's absolute error.
"""

# No `from __future__ import annotations`: clu reads the Collection annotations as classes.

import functools

import flax
import jax
import jax.numpy as jnp
import numpy as np
from clu import metrics


@flax.struct.dataclass
class ConfusionMatrix(metrics.Metric):
    """counts[true, predicted], summed over batches; `mask` drops padding rows."""

    counts: jax.Array

    @classmethod
    def from_model_output(cls, *, logits: jax.Array, labels: jax.Array, mask: jax.Array | None = None, **_):
        num_classes = logits.shape[-1]
        weight = jnp.ones_like(labels, jnp.int32) if mask is None else mask.astype(jnp.int32)
        predicted = jnp.argmax(logits, axis=-1)
        flat = labels * num_classes + predicted
        counts = jnp.zeros(num_classes * num_classes, jnp.int32).at[flat].add(weight)
        return cls(counts=counts.reshape(num_classes, num_classes))

    def merge(self, other: "ConfusionMatrix") -> "ConfusionMatrix":
        return type(self)(counts=self.counts + other.counts)

    def compute(self) -> np.ndarray:
        return np.asarray(self.counts)


# Probability bins of the ROC-AUC histogram: pairs whose scores fall in one bin count as ties (half a pair), so the
# AUC is exact up to scores closer than 1/4096.
SCORE_BINS = 4096


@flax.struct.dataclass
class ScoreHistogram(metrics.Metric):
    """counts[true class, bin of P(class 1)] of a two-class task, summed over batches; `mask` drops padding rows."""

    counts: jax.Array

    @classmethod
    def from_model_output(cls, *, logits: jax.Array, labels: jax.Array, mask: jax.Array | None = None, **_):
        weight = jnp.ones_like(labels, jnp.int32) if mask is None else mask.astype(jnp.int32)
        score = jax.nn.softmax(logits.astype(jnp.float32), axis=-1)[:, 1]
        bins = jnp.clip(jnp.floor(score * SCORE_BINS), 0, SCORE_BINS - 1).astype(jnp.int32)
        counts = jnp.zeros(2 * SCORE_BINS, jnp.int32).at[labels * SCORE_BINS + bins].add(weight)
        return cls(counts=counts.reshape(2, SCORE_BINS))

    def merge(self, other: "ScoreHistogram") -> "ScoreHistogram":
        return type(self)(counts=self.counts + other.counts)

    def compute(self) -> np.ndarray:
        return np.asarray(self.counts)


@flax.struct.dataclass
class AbsoluteErrors(metrics.Metric):
    """Sum of each regressed value's absolute error (`errors`, (B, K)) and the number of rows; `mask` drops padding."""

    total: jax.Array
    count: jax.Array

    @classmethod
    def from_model_output(cls, *, errors: jax.Array, mask: jax.Array | None = None, **_):
        weight = jnp.ones(errors.shape[0], jnp.float32) if mask is None else mask.astype(jnp.float32)
        return cls(total=(errors * weight[:, None]).sum(axis=0), count=weight.sum())

    def merge(self, other: "AbsoluteErrors") -> "AbsoluteErrors":
        return type(self)(total=self.total + other.total, count=self.count + other.count)

    def compute(self) -> np.ndarray:
        return np.asarray(self.total) / max(float(self.count), 1.0)


@flax.struct.dataclass
class EvalMetrics(metrics.Collection):
    loss: metrics.Average.from_output("loss")
    confusion: ConfusionMatrix


@flax.struct.dataclass
class BinaryEvalMetrics(metrics.Collection):
    loss: metrics.Average.from_output("loss")
    confusion: ConfusionMatrix
    scores: ScoreHistogram


@flax.struct.dataclass
class RegressionEvalMetrics(metrics.Collection):
    loss: metrics.Average.from_output("loss")
    mean_absolute_errors: AbsoluteErrors


@functools.cache
def train_metrics_class(names: tuple[str, ...], classification: bool = True) -> type[metrics.Collection]:
    """A clu Collection averaging the total loss, the accuracy (of a classification) and each of `names` over the
    steps logged."""
    accuracy = {"accuracy": metrics.Accuracy} if classification else {}
    return metrics.Collection.create(
        loss=metrics.Average.from_output("loss"),
        **accuracy,
        **{name: metrics.Average.from_output(name) for name in names},
    )


def roc_auc(histogram: np.ndarray) -> float:
    """Area under the ROC curve from ScoreHistogram counts: P(score of a class-1 example > score of a class-0
    example), ties counted half. NaN when a class has no example."""
    negatives, positives = np.asarray(histogram, np.float64)
    if not negatives.sum() or not positives.sum():
        return float("nan")
    below = np.cumsum(negatives) - negatives  # class-0 examples in lower bins
    return float((positives * (below + 0.5 * negatives)).sum() / (positives.sum() * negatives.sum()))


def summarize_errors(mean_errors: np.ndarray, names: tuple[str, ...]) -> dict[str, float]:
    """Mean absolute error of each regressed value (`<name>_mae`) and their mean (`mean_mae`)."""
    summary = {"mean_mae": float(np.mean(mean_errors))}
    summary.update({f"{name}_mae": float(value) for name, value in zip(names, mean_errors, strict=True)})
    return summary


def f1_scores(confusion: np.ndarray) -> np.ndarray:
    """Each class's F1 (rows: true classes, columns: predictions); 0 for a class with no example and no prediction."""
    confusion = np.asarray(confusion, np.float64)
    true_counts, predicted_counts, hits = confusion.sum(axis=1), confusion.sum(axis=0), np.diag(confusion)
    recall = np.divide(hits, true_counts, out=np.zeros_like(hits), where=true_counts > 0)
    precision = np.divide(hits, predicted_counts, out=np.zeros_like(hits), where=predicted_counts > 0)
    denom = precision + recall
    return np.divide(2 * precision * recall, denom, out=np.zeros_like(hits), where=denom > 0)


def summarize_confusion(confusion: np.ndarray, class_names: tuple[str, ...]) -> dict[str, float]:
    """Accuracy, balanced accuracy, macro-F1 and per-class accuracy (recall) from a confusion matrix.

    A class with no example and no prediction has F1 0 (as scikit-learn's `zero_division=0`): macro-F1 is then
    an average over all classes, never silently over fewer.
    """
    confusion = np.asarray(confusion, np.float64)
    true_counts = confusion.sum(axis=1)
    hits = np.diag(confusion)
    recall = np.divide(hits, true_counts, out=np.zeros_like(hits), where=true_counts > 0)
    f1 = f1_scores(confusion)
    summary = {
        "accuracy": float(hits.sum() / max(confusion.sum(), 1)),
        "balanced_accuracy": float(recall[true_counts > 0].mean()) if np.any(true_counts > 0) else 0.0,
        "macro_f1": float(f1.mean()),
    }
    for name, value in zip(class_names, recall, strict=True):
        summary[f"accuracy_{name}"] = float(value)
    return summary
