"""Which tasks a config turns on. The one place that decides it: everything else asks here."""

from __future__ import annotations

import ml_collections

PRETEXT_TASKS = ("jigsaw", "inpaint")


def task_on(config: ml_collections.ConfigDict, task: str) -> bool:
    """A pretext task is on when its loss weight is above 0. A task that is off is not built at all: no head, no
    view, no extra compute."""
    if task not in PRETEXT_TASKS:
        raise ValueError(f"unknown pretext task {task!r}: one of {PRETEXT_TASKS}")
    return config[task].weight > 0


def perceptual_on(config: ml_collections.ConfigDict) -> bool:
    """In-painting is on and adds the perceptual (VGG-16 feature) loss to its pixel loss."""
    return task_on(config, "inpaint") and config.inpaint.perceptual_network != "none"
