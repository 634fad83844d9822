"""Orbax checkpoints of the train state and the Grain iterator, written asynchronously.

One checkpoint = `<workdir>/checkpoints/<step>/{state,data}`: `state` is the whole TrainState (parameters,
BatchNorm statistics, optimiser state, step, PRNG key); `data` is each process's Grain iterator position, so a
resumed run continues with the very next batch. Orbax writes into a temporary directory and renames it when
complete, so a crash mid-write leaves the previous checkpoint as the latest; a checkpoint damaged on disk afterwards
is detected at restore and the one before it is used.
"""

from __future__ import annotations

import logging

import grain
import jax
import orbax.checkpoint as ocp
from etils import epath
from flax import nnx
from jax.experimental import multihost_utils

# The per-array metadata store Orbax's default array handler writes with (kept, so that the files stay the ones
# Orbax writes by default); it has no public name in Orbax 0.12.
from orbax.checkpoint._src.metadata import array_metadata_store

from hmtl_jax.errors import ConfigError, MissingFileError
from hmtl_jax.models.imagenet_weights import imagenet_leaves
from hmtl_jax.runtime import storage

log = logging.getLogger(__name__)


class Checkpointer:
    def __init__(self, workdir: epath.Path, *, every_steps: int, max_to_keep: int):
        self.every_steps = every_steps
        self.directory = workdir / "checkpoints"
        self.corrupt_dir = workdir / "corrupt_checkpoints"
        self.manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, enable_async_checkpointing=True),
            # Named up front, so that a checkpoint's metadata can be read (and compared) before anything is restored.
            item_handlers={"state": state_handler(), "data": grain.checkpoint.CheckpointHandler()},
        )

    def restore(self, abstract_state, data_iterator: grain.DatasetIterator):
        """The newest readable checkpoint's state (laid out as `abstract_state`'s shardings), with `data_iterator`
        advanced to it. A checkpoint that cannot be read (truncated or damaged files) is reported, moved to
        `<workdir>/corrupt_checkpoints/<step>` so it is neither retried nor overwritten, and the one before is used.
        A readable checkpoint whose arrays do not fit `abstract_state` (another model or task set) is an error:
        it belongs to another run and is left as it is.

        Returns None when there is nothing to resume from.
        """
        for step in sorted(self.manager.all_steps(), reverse=True):
            try:
                saved = self.manager.item_metadata(step)["state"]
                if saved is None:
                    raise FileNotFoundError("the state's metadata is missing")
            except Exception as error:  # noqa: BLE001 - unreadable metadata: the checkpoint is damaged
                self._set_aside(step, error)
                continue
            mismatch = _first_mismatches(saved, abstract_state)
            if mismatch:
                raise ConfigError(
                    f"the checkpoint at step {step} in {self.directory} does not fit this config's model "
                    f"({mismatch}): it belongs to another model or task set. Use a new --workdir, or the "
                    "settings of the run it holds"
                )
            try:
                restored = self.manager.restore(
                    step,
                    args=ocp.args.Composite(
                        state=ocp.args.PyTreeRestore(
                            abstract_state, restore_args=ocp.checkpoint_utils.construct_restore_args(abstract_state)
                        ),
                        data=grain.checkpoint.CheckpointRestore(data_iterator),
                    ),
                )
            except Exception as error:  # noqa: BLE001 - Orbax, TensorStore and JSON errors alike mean "unreadable"
                self._set_aside(step, error)
                continue
            log.info("Resumed from checkpoint at step %d", step)
            return restored["state"]
        return None

    def _set_aside(self, step: int, error: Exception) -> None:
        """Move an unreadable checkpoint to `corrupt_checkpoints/<step>` (`<step>.1`, ... if that exists already):
        never deleted, so nothing is lost if the damage was only a passing read error."""
        message = str(error).splitlines()[0][:300] if str(error) else ""
        log.error("Checkpoint at step %d cannot be read (%s: %s); moving it to %s and trying the one before",
                  step, type(error).__name__, message, self.corrupt_dir)  # fmt: skip
        if jax.process_index() == 0:
            self.corrupt_dir.mkdir(parents=True, exist_ok=True)
            target, number = self.corrupt_dir / str(step), 0
            while target.exists():
                number += 1
                target = self.corrupt_dir / f"{step}.{number}"
            storage.move(self.directory / str(step), target)
        multihost_utils.sync_global_devices(f"set aside checkpoint {step}")
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
                state=ocp.args.PyTreeSave(state), data=grain.checkpoint.CheckpointSave(data_iterator)
            ),
            force=True,
        )
        return True

    def close(self) -> None:
        """Wait for the last background write, then release the manager."""
        self.manager.wait_until_finished()
        self.manager.close()


def state_handler() -> ocp.PyTreeCheckpointHandler:
    """Orbax's handler for the train state (the same files as its StandardCheckpointHandler), with replica-parallel
    saving only where it parallelises anything: across processes. Replica-parallel saving (Orbax's default except
    on GPU) cuts each replicated array into one slice per device, and each process writes its devices' slices. In one
    process that process writes every slice all the same, and cutting them costs a small XLA program per distinct
    slice, compiled at the first save: 224 programs, 9.6 s, for resnet_tiny with both pretext tasks on 8 simulated
    CPU devices (docs/PERFORMANCE.md). With several processes Orbax's default (None) stands."""
    arrays = ocp.type_handlers.ArrayHandler(
        use_replica_parallel=None if jax.process_count() > 1 else False,
        array_metadata_store=array_metadata_store.Store(),
    )
    return ocp.PyTreeCheckpointHandler(
        type_handler_registry=ocp.type_handlers.create_type_handler_registry((jax.Array, arrays))
    )


def abstract_with_shardings(abstract_state, shardings):
    """ShapeDtypeStructs carrying the target sharding, which is how Orbax learns where to put restored arrays."""
    return jax.tree.map(
        lambda leaf, sharding: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=sharding),
        abstract_state,
        shardings,
    )


def _path_name(path) -> str:
    """A pytree key path as `params/backbone/stem/conv/kernel`, whatever the container types along it."""
    return "/".join(str(getattr(key, "key", getattr(key, "name", getattr(key, "idx", key)))) for key in path)


def _leaves_by_path(tree) -> dict[str, tuple]:
    """{'params/backbone/stem/conv/kernel': (shape, dtype), ...} for a pytree of arrays, ShapeDtypeStructs or Orbax
    array metadata, with the path written the same way whatever the container types."""
    leaves = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        leaves[_path_name(path)] = (tuple(getattr(leaf, "shape", ())), str(getattr(leaf, "dtype", "")))
    return leaves


def _first_mismatches(saved_metadata, abstract_state, limit: int = 3) -> str:
    """What differs between a checkpoint's arrays and the state the run needs ('' when they fit)."""
    tree = getattr(saved_metadata, "tree", saved_metadata)
    saved, needed = _leaves_by_path(tree), _leaves_by_path(abstract_state)
    problems = [f"{name} missing" for name in needed if name not in saved]
    problems += [f"{name} not in this model" for name in saved if name not in needed]
    problems += [
        f"{name} {saved[name][0]} saved, {needed[name][0]} needed"
        for name in needed
        if name in saved and saved[name][0] != needed[name][0]
    ]
    more = len(problems) - limit
    return "; ".join(problems[:limit]) + (f"; and {more} more" if more > 0 else "")


def initialise_from(source: str, state):
    """`state` with its parameters and BatchNorm statistics replaced by those of the run in `source` (a workdir: its
    newest checkpoint; or a `checkpoints/<step>` folder) wherever name and shape match. The optimiser state and the
    step stay fresh. Returns (state, names loaded, names left as initialised)."""
    path = storage.location(source)
    directory, step = path / "checkpoints", None
    if not directory.is_dir() and path.name.isdigit():
        directory, step = path.parent, int(path.name)
    manager = ocp.CheckpointManager(directory) if directory.is_dir() else None
    step = step if step is not None or manager is None else manager.latest_step()
    if manager is None or step is None or step not in manager.all_steps():
        raise MissingFileError(
            f"config.init_from={source} holds no checkpoint: give a workdir with checkpoints/<step> folders, or one of "
            "those folders"
        )
    saved = manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore()))["state"]
    manager.close()
    source_leaves = {_path_name(p): leaf for p, leaf in jax.tree_util.tree_flatten_with_path(saved)[0]}
    state, loaded, initialised = replace_matching(state, source_leaves)
    log.info("Initialised from %s (step %d): %d arrays loaded, %d initialised afresh%s", source, step, len(loaded),
             len(initialised), f" ({', '.join(initialised[:8])}{', ...' if len(initialised) > 8 else ''})"
             if initialised else "")  # fmt: skip
    return state, loaded, initialised


def initialise_from_imagenet(path: str, state, graphdef):
    """`state` with the backbone (and a 1,000-class head) from a timm or torchvision ImageNet weights file; the
    pretext heads, and an emotion head of other classes, stay initialised. Logs what it loaded."""
    leaves, _ = imagenet_leaves(nnx.merge(graphdef, state.params, state.batch_stats), path)
    state, loaded, initialised = replace_matching(state, leaves)
    log.info(
        "Initialised from the ImageNet weights %s: %d arrays loaded, %d initialised afresh (%s)",
        path,
        len(loaded),
        len(initialised),
        ", ".join(sorted({name.rsplit("/", 1)[0] for name in initialised})),
    )
    return state


def replace_matching(state, source_leaves: dict):
    """`state` with its parameters and BatchNorm statistics replaced by `source_leaves` ({'params/backbone/stem/
    conv/kernel': array, ...}, as `_path_name` writes a path, with or without flax's trailing '/value') wherever
    name and shape match, laid out as the state's arrays. Returns (state, names loaded, names left as they were)."""
    by_name = {name.removesuffix("/value"): leaf for name, leaf in source_leaves.items()}
    loaded, initialised = [], []

    def take(path, leaf):
        name = _path_name(path).removesuffix("/value")
        found = by_name.get(name)
        if found is None or tuple(found.shape) != tuple(leaf.shape):
            initialised.append(name)
            return leaf
        loaded.append(name)
        return jax.device_put(jax.numpy.asarray(found, leaf.dtype), leaf.sharding)

    state = state.replace(
        params=jax.tree_util.tree_map_with_path(lambda p, x: take(("params", *p), x), state.params),
        batch_stats=jax.tree_util.tree_map_with_path(lambda p, x: take(("batch_stats", *p), x), state.batch_stats),
    )
    return state, loaded, initialised
