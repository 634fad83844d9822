"""Metrics accumulated on device with clu, and what is derived from them on the host.

Evaluation keeps one confusion matrix (integer counts, padded examples masked out); accuracy, macro-F1 and
per-class accuracy all come from it, so they can never disagree with each other.
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


@flax.struct.dataclass
class EvalMetrics(metrics.Collection):
    loss: metrics.Average.from_output("loss")
    confusion: ConfusionMatrix


@functools.cache
def train_metrics_class(names: tuple[str, ...]) -> type[metrics.Collection]:
    """A clu Collection averaging the total loss, the emotion accuracy and each of `names` over the steps logged."""
    return metrics.Collection.create(
        loss=metrics.Average.from_output("loss"),
        accuracy=metrics.Accuracy,
        **{name: metrics.Average.from_output(name) for name in names},
    )


def summarize_confusion(confusion: np.ndarray, class_names: tuple[str, ...]) -> dict[str, float]:
    """Accuracy, balanced accuracy, macro-F1 and per-class accuracy (recall) from a confusion matrix.

    A class with no example and no prediction has F1 0 (as scikit-learn's `zero_division=0`): macro-F1 is then
    an average over all classes, never silently over fewer.
    """
    confusion = np.asarray(confusion, np.float64)
    true_counts = confusion.sum(axis=1)
    predicted_counts = confusion.sum(axis=0)
    hits = np.diag(confusion)
    recall = np.divide(hits, true_counts, out=np.zeros_like(hits), where=true_counts > 0)
    precision = np.divide(hits, predicted_counts, out=np.zeros_like(hits), where=predicted_counts > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(hits), where=denom > 0)
    summary = {
        "accuracy": float(hits.sum() / max(confusion.sum(), 1)),
        "balanced_accuracy": float(recall[true_counts > 0].mean()) if np.any(true_counts > 0) else 0.0,
        "macro_f1": float(f1.mean()),
    }
    for name, value in zip(class_names, recall, strict=True):
        summary[f"accuracy_{name}"] = float(value)
    return summary
