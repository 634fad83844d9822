"""Where metrics go: `<workdir>/metrics.jsonl`, TensorBoard event files, and a progress line on the console.

TensorBoard events are written with tensorboardX so that training never imports TensorFlow (clu's writers do).
Only process 0 writes; the other processes of a multi-host run get writers that do nothing.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid

import jax
import numpy as np
from etils import epath

from hmtl_jax.runtime.storage import AppendedText

log = logging.getLogger(__name__)


def _summary_writer_class():
    """tensorboardX's SummaryWriter, imported without PyTorch. tensorboardX imports torch when it is installed, to
    accept torch tensors (this module passes floats and numpy arrays): 1.5 s and 600 MB of memory in every run,
    measured on the 2-core machine (`import tensorboardX`: 1.8 s and 680 MB with torch installed, 0.3 s and 70 MB
    with it hidden). A None in sys.modules makes `import torch` raise ImportError, which tensorboardX expects of a
    machine without torch. A process that already imported torch keeps it."""
    if "torch" in sys.modules:
        from tensorboardX import SummaryWriter

        return SummaryWriter
    sys.modules["torch"] = None
    try:
        from tensorboardX import SummaryWriter
    finally:
        del sys.modules["torch"]
    return SummaryWriter


class MetricWriter:
    """Append-only scalar and image log. One JSON object per line: {"step": N, "train/loss": ..., ...}."""

    def __init__(self, workdir: epath.Path, enabled: bool | None = None):
        self.enabled = jax.process_index() == 0 if enabled is None else enabled
        self._jsonl = None
        self._tb = None
        if self.enabled:
            SummaryWriter = _summary_writer_class()  # imported here: only process 0 needs it
            self._jsonl = AppendedText(workdir / "metrics.jsonl")
            # Event files are named by the second they were opened in: a suffix of its own keeps a resumed run's file
            # from replacing the one before it (in a bucket, where a file of the same name is overwritten).
            # A gs:// logdir needs google-cloud-storage.
            self._tb = SummaryWriter(str(workdir / "tensorboard"), filename_suffix=f".{uuid.uuid4().hex[:8]}")

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


BAR_SCALARS = ("train/loss", "train/accuracy")  # the bar's line stays short: every figure is in metrics.jsonl


class ProgressReporter:
    """Steps/s, images/s, ETA, and the share of time spent waiting for input, measured over the interval since the
    last report (compile time excluded): a log line at each report, or with `bar` a progress bar that moves at each
    report (process 0 only; tqdm.auto draws a widget in a notebook)."""

    def __init__(self, total_steps: int, global_batch_size: int, bar: bool = False):
        self.total_steps = total_steps
        self.global_batch_size = global_batch_size
        self._last_time: float | None = None
        self._last_step = 0
        self._input_wait = 0.0
        self._bar = None
        if bar and jax.process_index() == 0:
            from tqdm.auto import tqdm  # noqa: PLC0415 - only runs that ask for a bar need it

            self._bar = tqdm(total=total_steps, unit="step", dynamic_ncols=True)

    def start(self, step: int) -> None:
        self._last_time, self._last_step, self._input_wait = time.perf_counter(), step, 0.0
        if self._bar is not None and step > self._bar.n:  # a resumed run starts where its checkpoint was
            self._bar.update(step - self._bar.n)

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
        if self._bar is not None:
            self._bar.update(step - self._bar.n)
            postfix = {k.split("/")[-1]: f"{v:.4g}" for k, v in scalars.items() if k in BAR_SCALARS}
            self._bar.set_postfix(postfix | {"img/s": f"{steps_per_sec * self.global_batch_size:.0f}"})
        shown = "  ".join(f"{k.split('/')[-1]}={v:.4f}" for k, v in scalars.items())
        log.log(
            logging.DEBUG if self._bar is not None else logging.INFO,
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

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _format_eta(seconds: float) -> str:
    if not np.isfinite(seconds):
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
