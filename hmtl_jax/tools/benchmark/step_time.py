"""Train-step time of several configs, side by side on this machine.

    python -m hmtl_jax.tools.benchmark step_time configs/synthetic_sl.py configs/synthetic_puzzle.py ... [--set k=v]
    python -m hmtl_jax.tools.benchmark step_time configs/demo.py configs/demo.py:model.name=resnet_tiny

A config may carry overrides of its own after its path, `PATH:KEY=VALUE[:KEY=VALUE...]`, to time variants of one
file; `--set` applies to every config.

Times the jitted train step alone (the one training runs, from the same `training.jitted.jit_training`) on a
fixed random batch already on device, so the figure is the device's work, not the input pipeline's. The configs
are timed in interleaved rounds (A B C A B C ...) and the median of each is reported with its ratio to the first
config, so drift of a shared machine hits every config alike.
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import numpy as np

from hmtl_jax.config.overrides import load_config
from hmtl_jax.config.validation import check_config
from hmtl_jax.pretext.permutation_set import permutation_set
from hmtl_jax.runtime import sharding
from hmtl_jax.training.jitted import jit_training

NUM_CLASSES = 8


def _split_config_argument(argument: str) -> tuple[str, list[str]]:
    """`"configs/demo.py:model.name=resnet_tiny:batch_size=16"` -> ("configs/demo.py", ["model.name=...", ...])."""
    path, *overrides = argument.split(":")
    return path, overrides


def _prepare(argument: str, overrides: list[str], mesh):
    path, own_overrides = _split_config_argument(argument)
    config = load_config(path, [*overrides, *own_overrides])
    check_config(config)
    jitted = jit_training(config, mesh, NUM_CLASSES, 100, None, permutation_set(config))
    state = jitted.init(jax.random.key(0))
    rng = np.random.default_rng(0)
    size = config.data.image_size
    batch = sharding.make_global_batch(
        {
            "image": rng.integers(0, 256, (config.batch_size, size, size, 3), dtype=np.uint8),
            "label": rng.integers(0, NUM_CLASSES, config.batch_size).astype(np.int32),
        },
        mesh,
    )
    return config, jitted, state, batch


def run(argv: list[str]) -> list[dict]:
    parser = argparse.ArgumentParser(
        prog="python -m hmtl_jax.tools.benchmark step_time", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "configs", nargs="+", help="config files, each PATH[:KEY=VALUE...]; the first is the reference (ratio 1.00)"
    )
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every config")
    parser.add_argument("--steps", type=int, default=20, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    mesh = sharding.create_mesh()
    runs = []
    for path in args.configs:
        config, jitted, state, batch = _prepare(path, args.set, mesh)
        started = time.perf_counter()
        state, metrics, _ = jitted.train_step(state, batch, jitted.perceptual_params)  # compile
        jax.block_until_ready(metrics)
        runs.append(
            dict(
                path=path,
                config=config,
                jitted=jitted,
                state=state,
                batch=batch,
                compile_s=time.perf_counter() - started,
                times=[],
            )
        )
        print(f"compiled {path} in {runs[-1]['compile_s']:.1f} s", flush=True)

    for round_index in range(args.rounds):
        for run_ in runs:
            state, jitted = run_["state"], run_["jitted"]
            started = time.perf_counter()
            for _ in range(args.steps):
                state, metrics, _ = jitted.train_step(state, run_["batch"], jitted.perceptual_params)
            jax.block_until_ready((state, metrics))
            run_["times"].append((time.perf_counter() - started) / args.steps)
            run_["state"] = state
        print(f"round {round_index + 1}/{args.rounds} done", flush=True)

    reference = statistics.median(runs[0]["times"])
    rows = []
    for run_ in runs:
        median = statistics.median(run_["times"])
        rows.append(
            {
                "config": run_["path"],
                "ms_per_step": 1e3 * median,
                "images_per_s": run_["config"].batch_size / median,
                "ratio": median / reference,
                "spread": (max(run_["times"]) - min(run_["times"])) / median,
            }
        )
    device = jax.devices()[0]
    print(
        f"\ntrain-step time on {jax.device_count()} x {device.device_kind} ({device.platform}), "
        f"median of {args.rounds} rounds x {args.steps} steps"
    )
    print(f"{'config':<40} {'ms/step':>9} {'img/s':>8} {'vs first':>9} {'spread':>7}")
    for row in rows:
        print(
            f"{row['config']:<40} {row['ms_per_step']:>9.1f} {row['images_per_s']:>8.0f} "
            f"{row['ratio']:>8.2f}x {100 * row['spread']:>6.0f}%"
        )
    return rows
