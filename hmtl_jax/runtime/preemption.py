"""Stop requests: SIGTERM (a preemptible VM or a scheduler ending the job) or Ctrl-C, honoured at a step boundary.

With one process, our own handler records the signal. With several JAX processes, each may receive it at a different
step, so they must agree on where to stop: JAX's preemption sync point (the coordination service, which on TPU
also hears the platform's maintenance notice) answers the same for every process at the same step.
"""

from __future__ import annotations

import logging
import os
import signal
import threading

import jax
from jax.experimental import multihost_utils

log = logging.getLogger(__name__)


class StopRequests:
    """`with StopRequests() as stop: ... if stop.requested(step): save and leave`."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.received: int | None = None
        self._previous = {}

    def __enter__(self) -> StopRequests:
        # Python delivers signals to the main thread only; elsewhere (a notebook's worker thread) keep the defaults.
        if jax.process_count() == 1 and threading.current_thread() is threading.main_thread():
            for number in self.SIGNALS:
                self._previous[number] = signal.signal(number, self._record)
        return self

    def __exit__(self, *exc) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)

    def _record(self, number, frame) -> None:
        if self.received is not None and number == signal.SIGINT:
            # A second Ctrl-C: the user does not want to wait for the checkpoint. Leave at once: raising
            # KeyboardInterrupt here can land inside JAX's compiler or runtime threads and crash the interpreter
            # on its way out. Checkpoints are only ever renamed into place, so the last complete one stays.
            log.warning("Second Ctrl-C: leaving now, without a checkpoint of this step")
            logging.shutdown()
            os._exit(130)
        self.received = number
        log.warning("%s received: stopping after this step with a checkpoint", signal.Signals(number).name)

    def requested(self, step: int) -> bool:
        if jax.process_count() > 1:
            return multihost_utils.reached_preemption_sync_point(step)
        return self.received is not None
