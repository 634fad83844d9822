"""The jitted step on a mesh of 8 (simulated) devices computes what it computes on one device."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hmtl_jax.models.from_config import compute_dtype
from hmtl_jax.runtime import sharding
from hmtl_jax.training import step as steps
from hmtl_jax.training.multitask_loss import MultitaskSpec, loss_and_grads
from tests.helpers import FEW_RUNS, evaluate_once, for_a_few_steps, jitted_for, random_batch, run_steps, tiny_config


def _loss_and_grads_on(devices, config, batch):
    mesh, jitted = jitted_for(config, devices)
    (loss, (logits, _, stats)), grads = evaluate_once(
        lambda s, b: loss_and_grads(
            jitted.graphdef,
            s.params,
            s.batch_stats,
            b,
            jax.random.key(1),
            (),
            MultitaskSpec(dtype=compute_dtype(config), class_weights=jnp.linspace(0.5, 2.0, 8), label_smoothing=0.1),
        ),
        jitted.init(jax.random.key(0)),
        sharding.make_global_batch(batch, mesh),
        in_shardings=(jitted.state_shardings, jitted.batch_sharding),
    )
    return jax.device_get((loss, logits, stats, grads))


def test_eight_devices_give_the_same_loss_and_gradients_as_one():
    assert jax.device_count() == 8, "tests/conftest.py should simulate 8 CPU devices"
    config = tiny_config()
    batch = random_batch(size=config.data.image_size)
    one = _loss_and_grads_on(jax.devices()[:1], config, batch)
    eight = _loss_and_grads_on(jax.devices(), config, batch)
    np.testing.assert_allclose(one[0], eight[0], rtol=1e-5)
    np.testing.assert_allclose(one[1], eight[1], rtol=1e-4, atol=1e-5)
    # BatchNorm statistics are over the global batch on both: the running averages agree.
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6), one[2], eight[2])
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-6), one[3], eight[3])
    grad_norm = np.sqrt(sum(float(np.sum(g**2)) for g in jax.tree.leaves(one[3])))
    assert grad_norm > 0


@pytest.mark.parametrize("strategy", ["data", "fsdp"])
def test_train_steps_on_eight_devices_match_one_device(strategy):
    config = tiny_config(**{"sharding.strategy": strategy})
    results = []
    for devices in (jax.devices()[:1], jax.devices()):
        state, history = run_steps(config, 3, devices)
        results.append(([h["loss"] for h in history], state.params))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-4)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5), results[0][1], results[1][1])


def test_fsdp_shards_large_parameters_over_the_mesh():
    config = tiny_config(**{"sharding.strategy": "fsdp"})
    _, jitted = jitted_for(config)
    state = jitted.init(jax.random.key(0))
    shard_counts = [
        len({tuple((i.start, i.stop) for i in shard.index) for shard in leaf.addressable_shards})
        for leaf in jax.tree.leaves(state.params)
    ]
    assert max(shard_counts) == 8, "the largest parameters should be split over 8 devices"


def test_bf16_step_keeps_fp32_parameters_and_learns():
    config = tiny_config(half_precision=True)
    mesh, jitted = jitted_for(config)
    state = jitted.init(jax.random.key(0))
    batch = sharding.make_global_batch(random_batch(size=config.data.image_size), mesh)
    # Every convolution and matrix product of the step, forward and backward, multiplies bf16 operands.
    lowered = jitted.train_step.lower(state, batch, ())
    program = lowered.as_text()
    products = re.findall(
        r"stablehlo\.(?:convolution|dot_general)\b.*: \(tensor<[^>]*x(\w+)>, tensor<[^>]*x(\w+)>\)", program
    )
    assert len(products) >= 30, f"expected the network's convolutions in the step, found {len(products)}"
    assert {dtype for pair in products for dtype in pair} == {"bf16"}
    step = lowered.compile(FEW_RUNS)  # as for_a_few_steps, from the program inspected above
    losses = []
    for _ in range(8):
        state, metrics, _ = step(state, batch, ())
        losses.append(float(metrics.compute()["loss"]))
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(state.params))
    assert losses[-1] < losses[0], f"overfitting one batch should lower the loss: {losses}"


def test_a_step_with_a_non_finite_loss_changes_nothing_but_the_step():
    config = tiny_config()
    mesh, jitted = jitted_for(config)
    state = jitted.init(jax.random.key(0))
    batch = sharding.make_global_batch(random_batch(size=config.data.image_size), mesh)
    # Infinite class weights make the loss infinite and the gradients NaN, as a real divergence would.
    poisoned = MultitaskSpec.from_config(config, np.full(8, np.inf, np.float32), None)
    step = steps.jit_train_step(
        jitted.graphdef, jitted.optimizer, poisoned, jitted.state_shardings, jitted.batch_sharding
    )
    before = jax.device_get(state)
    after, _, health = for_a_few_steps(step, state, batch, ())(state, batch, ())
    assert not bool(health["finite"]) and not np.isfinite(float(health["loss"]))
    assert int(after.step) == int(before.step) + 1
    for name in ("params", "batch_stats", "opt_state"):
        jax.tree.map(np.testing.assert_array_equal, jax.device_get(getattr(after, name)), getattr(before, name))

    updated, _, health = for_a_few_steps(jitted.train_step, after, batch, ())(after, batch, ())
    assert bool(health["finite"])
    changed = jax.tree.map(lambda a, b: not np.array_equal(a, b), jax.device_get(updated.params), before.params)
    assert any(jax.tree.leaves(changed))
