"""Everything compiled for one training configuration: optimiser, model structure, state shardings and the jitted
steps. Shared by the trainer and the step-time benchmark, so the benchmark times exactly what training runs."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import ml_collections
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from hmtl_jax.runtime import sharding
from hmtl_jax.training import step as steps
from hmtl_jax.models import vgg16
from hmtl_jax.training.optimizer import create_optimizer
from hmtl_jax.training.state import compute_dtype, create_train_state, model_graphdef


@dataclasses.dataclass
class TrainingProgram:
    learning_rate: Callable[[int], float]
    graphdef: Any
    init: Callable  # PRNG key -> fresh TrainState, already laid out with `state_shardings`
    abstract_state: Any
    state_shardings: Any
    batch_sharding: NamedSharding
    setup: steps.StepSetup
    frozen: Any  # the perceptual network's weights, replicated; () without a perceptual loss
    train_step: Callable  # (state, batch, frozen) -> (state, metrics)
    eval_step: Callable  # (state, batch) -> EvalMetrics


def build_training_program(
    config: ml_collections.ConfigDict,
    mesh: Mesh,
    num_classes: int,
    steps_per_epoch: int,
    class_weights: np.ndarray | None,
    permutation_set: np.ndarray | None,
) -> TrainingProgram:
    tx, learning_rate = create_optimizer(config, steps_per_epoch, steps_per_epoch * config.num_epochs)
    setup = steps.StepSetup.from_config(config, class_weights, permutation_set)
    replicated = NamedSharding(mesh, PartitionSpec())
    frozen = ()
    if setup.perceptual_layers:
        frozen = jax.device_put(vgg16.load(config.inpaint.perceptual_weights, setup.perceptual_layers), replicated)

    graphdef = model_graphdef(config, num_classes)
    create = functools.partial(create_train_state, config, num_classes, tx)
    abstract_state = jax.eval_shape(create, jax.random.key(0))
    state_shardings = sharding.state_shardings(abstract_state, mesh, config.sharding.strategy)
    batch_sharding = sharding.batch_sharding(mesh)
    # The state is created by a jitted function whose outputs already have their final shardings.
    init = jax.jit(create, out_shardings=state_shardings)
    return TrainingProgram(
        learning_rate=learning_rate,
        graphdef=graphdef,
        init=init,
        abstract_state=abstract_state,
        state_shardings=state_shardings,
        batch_sharding=batch_sharding,
        setup=setup,
        frozen=frozen,
        train_step=steps.jit_train_step(graphdef, tx, setup, state_shardings, batch_sharding, replicated),
        eval_step=steps.jit_eval_step(graphdef, compute_dtype(config), state_shardings, batch_sharding),
    )
