"""The train state's Orbax checkpoints on the suite's eight devices: a save compiles nothing in one process, the
state comes back bit for bit with its shardings, and a checkpoint in Orbax's standard format (what versions before
the state handler wrote) still restores."""

import grain
import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from etils import epath
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from hmtl_jax.runtime import sharding
from hmtl_jax.runtime.checkpointing import Checkpointer, abstract_with_shardings


def _state(mesh):
    """A replicated and a sharded array of shapes no other test uses (XLA's in-process cache would hide their
    programs), an int32 step and a raw PRNG key, as the train state holds them."""
    replicated = NamedSharding(mesh, P())
    return {
        "replicated": jax.device_put(jnp.arange(8 * 37 * 3, dtype=jnp.float32).reshape(8 * 37, 3), replicated),
        "sharded": jax.device_put(jnp.ones((8 * 5, 7), jnp.float32), NamedSharding(mesh, P(sharding.DATA_AXIS))),
        "step": jax.device_put(jnp.int32(6), replicated),
        "rng": jax.device_put(jax.random.key_data(jax.random.key(3)), replicated),
    }


def _checkpointer(tmp_path) -> Checkpointer:
    return Checkpointer(epath.Path(tmp_path), every_steps=2, max_to_keep=2)


def _iterator():
    return iter(grain.MapDataset.range(10).to_iter_dataset())


def _abstract(state):
    return abstract_with_shardings(jax.eval_shape(lambda: state), jax.tree.map(lambda x: x.sharding, state))


def _assert_same(restored, state):
    for key in state:
        assert restored[key].sharding == state[key].sharding, key
        assert restored[key].dtype == state[key].dtype, key
        np.testing.assert_array_equal(np.asarray(restored[key]), np.asarray(state[key]), err_msg=key)


def test_a_save_on_eight_devices_compiles_no_program_and_restores_exactly(tmp_path):
    mesh = sharding.create_mesh()
    assert mesh.size == 8
    state = _state(mesh)
    compiled = []

    def listener(event, duration, fun_name=None, **_):
        if event == "/jax/core/compile/backend_compile_duration":
            compiled.append(fun_name)

    # Orbax's replica-parallel saving would cut the replicated arrays into eight slices each, one compiled
    # program per distinct slice, for one process to write them all.
    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        checkpointer = _checkpointer(tmp_path)
        assert checkpointer.maybe_save(6, state, _iterator())
        checkpointer.close()
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    assert compiled == []

    restored = _checkpointer(tmp_path).restore(_abstract(state), _iterator())
    _assert_same(restored, state)


def test_a_checkpoint_in_orbax_standard_format_restores(tmp_path):
    state, iterator = _state(sharding.create_mesh()), _iterator()
    next(iterator)
    with ocp.CheckpointManager(tmp_path / "checkpoints") as manager:
        args = ocp.args.Composite(state=ocp.args.StandardSave(state), data=grain.checkpoint.CheckpointSave(iterator))
        manager.save(4, args=args)
    resumed = _iterator()
    restored = _checkpointer(tmp_path).restore(_abstract(state), resumed)
    _assert_same(restored, state)
    assert next(resumed) == 1  # the data position came back too
