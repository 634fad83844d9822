"""Orbax checkpoints of the train state and the Grain iterator, written asynchronously.

One checkpoint = `<workdir>/checkpoints/<step>/{state,data}`: `state` is the whole TrainState (parameters,
BatchNorm statistics, optimiser state, step, PRNG key); `data` is each process's Grain iterator position, so a
resumed run continues with the very next batch. Orbax writes into a temporary directory and renames it when
complete, so a crash mid-write leaves the previous checkpoint as the latest; a checkpoint damaged on disk afterwards
is detected at restore and the one before it is used.
"""

from __future__ import annotations

import logging
import os
import shutil

import grain
import jax
import orbax.checkpoint as ocp
from jax.experimental import multihost_utils

log = logging.getLogger(__name__)


class Checkpointer:
    def __init__(self, workdir: str, *, every_steps: int, max_to_keep: int):
        self.every_steps = every_steps
        self.directory = os.path.join(os.path.abspath(workdir), "checkpoints")
        self.corrupt_dir = os.path.join(os.path.abspath(workdir), "corrupt_checkpoints")
        self.manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, enable_async_checkpointing=True),
        )

    def restore(self, abstract_state, data_iterator: grain.DatasetIterator):
        """The newest readable checkpoint's state (laid out as `abstract_state`'s shardings), with `data_iterator`
        advanced to it. A checkpoint that cannot be read (truncated or damaged files) is reported, moved to
        `<workdir>/corrupt_checkpoints/<step>` so it is neither retried nor overwritten, and the one before is used.

        Returns None when there is nothing to resume from.
        """
        for step in sorted(self.manager.all_steps(), reverse=True):
            try:
                restored = self.manager.restore(
                    step,
                    args=ocp.args.Composite(
                        state=ocp.args.StandardRestore(abstract_state),
                        data=grain.checkpoint.CheckpointRestore(data_iterator),
                    ),
                )
            except Exception as error:  # noqa: BLE001 - Orbax, TensorStore and JSON errors alike mean "unreadable"
                log.error(
                    "Checkpoint at step %d cannot be read (%s: %s); moving it to %s and trying the one before",
                    step,
                    type(error).__name__,
                    str(error).splitlines()[0][:300] if str(error) else "",
                    self.corrupt_dir,
                )
                self._quarantine(step)
                continue
            log.info("Resumed from checkpoint at step %d", step)
            return restored["state"]
        return None

    def _quarantine(self, step: int) -> None:
        if jax.process_index() == 0:
            os.makedirs(self.corrupt_dir, exist_ok=True)
            target = os.path.join(self.corrupt_dir, str(step))
            if os.path.exists(target):
                shutil.rmtree(target)
            shutil.move(os.path.join(self.directory, str(step)), target)
        multihost_utils.sync_global_devices(f"quarantine checkpoint {step}")
        self.manager.reload()

    def due(self, step: int) -> bool:
        return step % self.every_steps == 0

    def maybe_save(self, step: int, state, data_iterator: grain.DatasetIterator, *, force: bool = False) -> bool:
        """Save every `every_steps` steps, or now when `force`. The write continues in the background."""
        if not force and not self.due(step):
            return False
        if step in self.manager.all_steps():
            return False
        # The iterator position is read now, synchronously: the loop must not advance it before it is captured.
        self.manager.save(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(state), data=grain.checkpoint.CheckpointSave(data_iterator)
            ),
            force=True,
        )
        return True

    def close(self) -> None:
        """Wait for the last background write, then release the manager."""
        self.manager.wait_until_finished()
        self.manager.close()


def abstract_with_shardings(abstract_state, shardings):
    """ShapeDtypeStructs carrying the target sharding, which is how Orbax learns where to put restored arrays."""
    return jax.tree.map(
        lambda leaf, sharding: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=sharding),
        abstract_state,
        shardings,
    )
