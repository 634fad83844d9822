"""Where metrics go: `<workdir>/metrics.jsonl`, TensorBoard event files, and a progress line on the console.

TensorBoard events are written with tensorboardX so that training never imports TensorFlow (clu's writers do).
Only process 0 writes; the other processes of a multi-host run get writers that do nothing.
"""

from __future__ import annotations

import json
import logging
import os
import time

import jax
import numpy as np

log = logging.getLogger(__name__)


class MetricWriter:
    """Append-only scalar and image log. One JSON object per line: {"step": N, "train/loss": ..., ...}."""

    def __init__(self, workdir: str, enabled: bool | None = None):
        self.enabled = jax.process_index() == 0 if enabled is None else enabled
        self._jsonl = None
        self._tb = None
        if self.enabled:
            from tensorboardX import (
                SummaryWriter,  # imported lazily: heavy, and only process 0 needs it
            )

            self._jsonl = open(os.path.join(workdir, "metrics.jsonl"), "a", buffering=1)
            self._tb = SummaryWriter(os.path.join(workdir, "tensorboard"))

    def write_scalars(self, step: int, scalars: dict[str, float]) -> None:
        if not self.enabled:
            return
        clean = {k: float(v) for k, v in scalars.items()}
        self._jsonl.write(json.dumps({"step": int(step), **clean}) + "\n")
        for key, value in clean.items():
            self._tb.add_scalar(key, value, int(step))

    def write_image(self, step: int, key: str, image: np.ndarray) -> None:
        """`image` is HxWx3 uint8."""
        if self.enabled:
            self._tb.add_image(key, np.asarray(image), int(step), dataformats="HWC")

    def flush(self) -> None:
        if self.enabled:
            self._jsonl.flush()
            self._tb.flush()

    def close(self) -> None:
        if self.enabled:
            self._jsonl.close()
            self._tb.close()


class ProgressReporter:
    """Steps/s, images/s, ETA, and the share of time spent waiting for input, measured over the interval since the
    last report (compile time excluded)."""

    def __init__(self, total_steps: int, global_batch_size: int):
        self.total_steps = total_steps
        self.global_batch_size = global_batch_size
        self._last_time: float | None = None
        self._last_step = 0
        self._input_wait = 0.0

    def start(self, step: int) -> None:
        self._last_time, self._last_step, self._input_wait = time.perf_counter(), step, 0.0

    def waited_for_input(self, seconds: float) -> None:
        """Time the loop spent blocked on the input pipeline for one batch."""
        self._input_wait += seconds

    def report(self, step: int, scalars: dict[str, float]) -> dict[str, float]:
        """Log one line and return the speed figures so they can be written with the metrics."""
        now = time.perf_counter()
        elapsed = max(now - self._last_time, 1e-9)
        steps_per_sec = (step - self._last_step) / elapsed
        input_wait = min(1.0, self._input_wait / elapsed)
        self._last_time, self._last_step, self._input_wait = now, step, 0.0
        eta = (self.total_steps - step) / steps_per_sec if steps_per_sec > 0 else float("inf")
        shown = "  ".join(f"{k.split('/')[-1]}={v:.4f}" for k, v in scalars.items())
        log.info(
            "step %d/%d  %s  %.2f steps/s  %.0f img/s  input wait %.0f%%  ETA %s",
            step,
            self.total_steps,
            shown,
            steps_per_sec,
            steps_per_sec * self.global_batch_size,
            100 * input_wait,
            _format_eta(eta),
        )
        return {
            "perf/steps_per_sec": steps_per_sec,
            "perf/images_per_sec": steps_per_sec * self.global_batch_size,
            "perf/input_wait_fraction": input_wait,
        }


def _format_eta(seconds: float) -> str:
    if not np.isfinite(seconds):
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
