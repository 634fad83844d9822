"""The train state's initialisation, compiled with XLA's default options and with the trainer's (on CPU, without
backend optimisation: training/jitted.py), side by side: compile time, run time, and how far the values differ.

    python -m hmtl_jax.tools.benchmark init --models resnet_tiny,resnet50,efficientnet_b0 --image_size 64

Nothing comes from the persistent compilation cache: every compile is cold, as in a new run with a new config.
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

from hmtl_jax.runtime import sharding
from hmtl_jax.tools.benchmark.throughput import NUM_CLASSES, task_config
from hmtl_jax.training.jitted import init_compiler_options, jit_training

STEPS_PER_EPOCH = 100


def _time(init) -> tuple[float, float, list[np.ndarray]]:
    """(compile seconds, first run seconds, the parameters) of a jitted initialisation."""
    started = time.perf_counter()
    compiled = init.lower(jax.random.key(0)).compile()
    compiled_at = time.perf_counter()
    state = jax.block_until_ready(compiled(jax.random.key(0)))
    return compiled_at - started, time.perf_counter() - compiled_at, jax.tree.leaves(jax.device_get(state.params))


def run(argv: list[str]) -> list[dict]:
    parser = argparse.ArgumentParser(prog="python -m hmtl_jax.tools.benchmark init", description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="resnet_tiny,resnet50,efficientnet_b0")
    parser.add_argument("--image_size", type=int, default=64)
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_compilation_cache", False)
    mesh = sharding.create_mesh()
    trainer_options = init_compiler_options(mesh)
    device = jax.devices()[0]
    print(f"{jax.device_count()} x {device.device_kind}; the trainer's options: {trainer_options or 'the default'}")
    print(f"{'model':<18}{'options':<10}{'compile s':>10}{'run s':>8}{'total s':>9}{'max |diff|':>12}")
    rows = []
    for model in args.models.split(","):
        config = task_config(model, "sl", args.image_size, jax.device_count(), False, "", [])
        jitted = jit_training(config, mesh, NUM_CLASSES, STEPS_PER_EPOCH, None, None)
        # The trainer's own function, jitted again with XLA's default options.
        default = jax.jit(jitted.init.__wrapped__, out_shardings=jitted.state_shardings)
        reference = None
        for name, init in (("default", default), ("trainer", jitted.init)):
            compile_s, run_s, params = _time(init)
            reference = params if reference is None else reference
            diff = max(float(np.max(np.abs(a - b))) for a, b in zip(params, reference, strict=True))
            rows.append(dict(model=model, options=name, compile_s=compile_s, run_s=run_s, max_diff=diff))
            print(f"{model:<18}{name:<10}{compile_s:>10.2f}{run_s:>8.2f}{compile_s + run_s:>9.2f}{diff:>12.1e}")
    return rows
