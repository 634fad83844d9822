"""What the loop does about steps whose loss or gradients were not finite (config.nonfinite).

The train step itself never lets such a step change the state (training.step.train_step); this decides whether the run
stops, naming the step and every loss term (`stop`, the default), or goes on without those updates (`skip`, up to
config.max_skipped_steps of them).
"""

from __future__ import annotations

import logging

import jax

from hmtl_jax.errors import ConfigError

log = logging.getLogger(__name__)

MODES = ("stop", "skip")


class NonFiniteLoss(FloatingPointError):
    """The run stopped on a non-finite loss; the message says where and what to try."""


class NonFiniteGuard:
    def __init__(self, mode: str, max_skipped: int):
        if mode not in MODES:
            raise ConfigError(f"config.nonfinite={mode!r} is not one of {MODES}")
        self.mode = mode
        self.max_skipped = max_skipped
        self.skipped = 0

    def check(self, pending: list) -> list:
        """The metrics of the finite steps among `pending` [(step, metrics, health)]; raises NonFiniteLoss when the
        run must stop."""
        flags = jax.device_get([health["finite"] for _, _, health in pending])
        bad = [(step, health) for (step, _, health), finite in zip(pending, flags, strict=True) if not finite]
        if bad:
            step, health = bad[0]
            terms = ", ".join(f"{k}={float(v):.4g}" for k, v in jax.device_get(health).items() if k != "finite")
            if self.mode == "stop":
                raise NonFiniteLoss(
                    f"Non-finite loss at step {step} ({terms}). Its update was not applied, and no checkpoint was "
                    "written after it: the latest checkpoint is the last good state. Rerunning the same command "
                    "resumes there and will likely diverge again; lower config.optimizer.learning_rate, set "
                    "config.optimizer.grad_clip_norm, or pass --config.nonfinite=skip to skip such steps."
                )
            self.skipped += len(bad)
            log.warning(
                "Skipped %d step(s) with a non-finite loss, first at step %d (%s); %d skipped in all",
                len(bad),
                step,
                terms,
                self.skipped,
            )
            if self.skipped > self.max_skipped:
                raise NonFiniteLoss(
                    f"{self.skipped} steps had a non-finite loss, more than config.max_skipped_steps="
                    f"{self.max_skipped} (the last at step {bad[-1][0]}): the run has diverged. The latest checkpoint "
                    "holds no non-finite value; lower the learning rate or clip gradients and rerun."
                )
        return [metrics for (_, metrics, _), finite in zip(pending, flags, strict=True) if finite]
