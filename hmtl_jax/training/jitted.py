"""Everything jitted for one training config: the optimiser, the model's structure, the state's shardings and the
train and eval steps. Shared by the trainer and the benchmarks, so a benchmark times exactly what training runs."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import ml_collections
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding

from hmtl_jax.models import vgg16
from hmtl_jax.models.from_config import compute_dtype, model_graphdef
from hmtl_jax.runtime import sharding
from hmtl_jax.training.multitask_loss import MultitaskSpec
from hmtl_jax.training.optimizer import create_optimizer
from hmtl_jax.training.state import create_train_state
from hmtl_jax.training.step import jit_eval_step, jit_train_step


@dataclasses.dataclass
class JittedTraining:
    optimizer: optax.GradientTransformation  # what train_step applies
    learning_rate: Callable[[int], float]
    graphdef: Any
    init: Callable  # PRNG key -> fresh TrainState, already laid out with `state_shardings`
    abstract_state: Any
    state_shardings: Any
    batch_sharding: NamedSharding
    spec: MultitaskSpec
    perceptual_params: Any  # the perceptual network's weights, replicated; () without a perceptual loss
    train_step: Callable  # (state, batch, perceptual_params) -> (state, metrics, health)
    eval_step: Callable  # (state, batch) -> the task's eval metrics (hmtl_jax/reporting/metrics.py)


def init_compiler_options(mesh: Mesh) -> dict[str, int] | None:
    """On CPU, the initialisation is compiled without XLA's backend optimisations. It runs once per run, and
    optimising its random initialisers (threefry) costs more than it saves. Measured on the 2-core machine with
    `python -m hmtl_jax.tools.benchmark init` (compile + first run, seconds, default -> these options): resnet_tiny
    3.45 -> 1.08, ResNet-50 7.06 -> 4.51, EfficientNet-B0 11.88 -> 6.47; the values agree to float rounding (largest
    difference 2.4e-7). Other backends keep their defaults (not measured there)."""
    if mesh.devices.flat[0].platform == "cpu":
        return {"xla_backend_optimization_level": 0}
    return None


def jit_training(
    config: ml_collections.ConfigDict,
    mesh: Mesh,
    num_outputs: int,
    steps_per_epoch: int,
    class_weights: np.ndarray | None,
    permutation_set: np.ndarray | None,
) -> JittedTraining:
    tx, learning_rate = create_optimizer(config, steps_per_epoch, steps_per_epoch * config.num_epochs)
    spec = MultitaskSpec.from_config(config, class_weights, permutation_set)
    replicated = sharding.replicated(mesh)
    perceptual_params = ()
    if spec.perceptual_layers:
        perceptual_params = jax.device_put(
            vgg16.load(config.inpaint.perceptual_weights, spec.perceptual_layers), replicated
        )

    graphdef = model_graphdef(config, num_outputs)
    create = functools.partial(create_train_state, config, num_outputs, tx)
    abstract_state = jax.eval_shape(create, jax.random.key(0))
    state_shardings = sharding.state_shardings(abstract_state, mesh, config.sharding.strategy)
    batch_sharding = sharding.batch_sharding(mesh)
    return JittedTraining(
        optimizer=tx,
        learning_rate=learning_rate,
        graphdef=graphdef,
        # The state is created by a jitted function whose outputs already have their final shardings.
        init=jax.jit(create, out_shardings=state_shardings, compiler_options=init_compiler_options(mesh)),
        abstract_state=abstract_state,
        state_shardings=state_shardings,
        batch_sharding=batch_sharding,
        spec=spec,
        perceptual_params=perceptual_params,
        train_step=jit_train_step(graphdef, tx, spec, state_shardings, batch_sharding, replicated),
        eval_step=jit_eval_step(graphdef, compute_dtype(config), config.task, state_shardings, batch_sharding),
    )
