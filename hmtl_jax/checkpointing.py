"""Orbax checkpoints of the train state and the Grain iterator, written asynchronously.

One checkpoint = `<workdir>/checkpoints/<step>/{state,data}`: `state` is the whole TrainState (parameters,
BatchNorm statistics, optimiser state, step, PRNG key); `data` is each process's Grain iterator position, so a
resumed run continues with the very next batch. Orbax writes into a temporary directory and renames it when
complete, so a crash mid-write leaves the previous checkpoint as the latest.
"""

from __future__ import annotations

import logging
import os

import grain
import jax
import orbax.checkpoint as ocp

log = logging.getLogger(__name__)


class Checkpointer:
    def __init__(self, workdir: str, *, every_steps: int, max_to_keep: int):
        self.every_steps = every_steps
        self.manager = ocp.CheckpointManager(
            os.path.join(os.path.abspath(workdir), "checkpoints"),
            options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, enable_async_checkpointing=True),
        )

    def restore(self, abstract_state, data_iterator: grain.DatasetIterator):
        """The latest checkpoint's state (laid out as `abstract_state`'s shardings) and advance `data_iterator` to it.

        Returns None when there is nothing to resume from.
        """
        step = self.manager.latest_step()
        if step is None:
            return None
        restored = self.manager.restore(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardRestore(abstract_state),
                data=grain.checkpoint.CheckpointRestore(data_iterator),
            ),
        )
        log.info("Resumed from checkpoint at step %d", step)
        return restored["state"]

    def maybe_save(self, step: int, state, data_iterator: grain.DatasetIterator, *, force: bool = False) -> bool:
        """Save every `every_steps` steps, or now when `force`. The write continues in the background."""
        if not force and step % self.every_steps != 0:
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
        abstract_state, shardings,
    )
