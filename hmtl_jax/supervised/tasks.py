"""The supervised tasks: the one place that says which label a task reads, what its head outputs and which figure
runs are compared by. The pretext tasks are decided in hmtl_jax/config/tasks.py.

emotion:    classification over the data set's classes (AffectNet's 8 for the synthetic faces); accuracy.
gender:     classification, female / male; accuracy and ROC-AUC.
head_pose:  yaw, pitch and roll in degrees; mean absolute error (MAE), per angle and their mean (lower is better).
"""

from __future__ import annotations

import numpy as np

from hmtl_jax.supervised import head_pose

SUPERVISED_TASKS = ("emotion", "gender", "head_pose")
GENDER_CLASSES = ("female", "male")
# The figures each task's runs are reported and compared by (results tables): a fraction, or head pose's mean error
# in degrees, lower is better.
REPORTED_FIGURES = {"emotion": ("accuracy",), "gender": ("accuracy", "roc_auc"), "head_pose": ("mean_mae",)}


def is_regression(task: str) -> bool:
    return task == "head_pose"


def output_names(task: str, class_names: tuple[str, ...]) -> tuple[str, ...]:
    """What the head predicts: the data set's classes (emotion), female/male, or yaw/pitch/roll."""
    if task == "gender":
        return GENDER_CLASSES
    if task == "head_pose":
        return head_pose.ANGLES
    return class_names


def output_size(task: str, names: tuple[str, ...]) -> int:
    """Width of the head's dense layer: one logit per class, or a logit per angle bin for each angle."""
    return len(names) * head_pose.NUM_BINS if is_regression(task) else len(names)


def synthetic_label(task: str, record: dict) -> np.ndarray:
    """The label of `task` in a synthetic face's record (its fields: hmtl_jax/data/synthetic/faces.py)."""
    if task == "gender":
        return np.int32(record["male"])
    if task == "head_pose":
        return np.array([record[angle] for angle in head_pose.ANGLES], np.float32)
    return np.int32(record["label"])
