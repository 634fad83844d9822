"""Train-step throughput of SL, puzzle, in-painting and joint HMTL, with compile times, memory, the device's floor
and the PyTorch reference, all measured in one run on this machine.

    python -m hmtl_jax.tools.benchmark throughput      # EfficientNet-B0 and ResNet-50, 224 px, batch 256, bf16 (a GPU)
    python -m hmtl_jax.tools.benchmark throughput --models resnet18 --image_size 32 --batch_size 16 --dtype fp32  # CPU

For every model x task: the config is the AffectNet recipe (hmtl_jax/config/recipes.py; puzzle and HMTL at the next
multiple of 3, 225 px for 224, as configs/affectnet_puzzle.py) with the task on; the batch is random and already on
the device, so the figure is the step alone. Reported:
  img/s, ms/step   median of --rounds rounds of --steps steps, configs interleaved so drift hits all alike
  vs SL            step time relative to the same model's SL step (the issue's target: in-paint, HMTL <= 1.3x)
  compile cold     lowering + first compile, with an empty persistent compilation cache
  compile warm     lowering + compile again after jax.clear_caches(), served from that cache
  peak GiB         XLA's memory analysis of the step: arguments + outputs + temporaries - donated
  GFLOP            analytic: 2 x multiply-adds of every convolution and matrix product (benchmark/flops.py)
  floor ms         max(GFLOP / measured matmul rate, XLA's bytes accessed / measured copy bandwidth), and which binds
  of floor         floor / measured time: how close the step is to what the device allows
Then, when torch (with timm or torchvision) is importable, the same SL step in PyTorch, eager (and compiled with
--torch_compile), and our SL img/s relative to it. With --largest_batch, the largest SL batch whose memory analysis
fits the device's memory (GPU/TPU only).
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import statistics
import tempfile
import time

import jax
import numpy as np

from hmtl_jax.config.overrides import apply_overrides
from hmtl_jax.config.recipes import add_inpaint, add_puzzle, affectnet_base
from hmtl_jax.config.validation import check_config
from hmtl_jax.models import vgg16
from hmtl_jax.pretext.permutation_set import permutation_set
from hmtl_jax.runtime import sharding
from hmtl_jax.tools.benchmark import machine, torch_reference
from hmtl_jax.tools.benchmark.flops import count_flops
from hmtl_jax.training.jitted import jit_training

TASKS = ("sl", "puzzle", "inpaint", "hmtl")
NUM_CLASSES = 8
GIB = 2**30


def task_config(
    model: str, task: str, image_size: int, batch_size: int, bf16: bool, vgg_weights: str, overrides: list[str]
):
    config = affectnet_base()
    config.model.name = model
    config.batch_size = batch_size
    config.half_precision = bf16
    puzzled = task in ("puzzle", "hmtl")
    config.data.image_size = image_size + (-image_size) % 3 if puzzled else image_size
    if puzzled:
        add_puzzle(config)
    if task in ("inpaint", "hmtl"):
        add_inpaint(config, perceptual=bool(vgg_weights))
        config.inpaint.perceptual_weights = vgg_weights
    apply_overrides(config, overrides)
    check_config(config)
    return config


def _random_batch(config, mesh):
    rng = np.random.default_rng(0)
    size = config.data.image_size
    return sharding.make_global_batch(
        {
            "image": rng.integers(0, 256, (config.batch_size, size, size, 3), dtype=np.uint8),
            "label": rng.integers(0, NUM_CLASSES, config.batch_size).astype(np.int32),
        },
        mesh,
    )


def _peak_bytes(compiled) -> float:
    stats = compiled.memory_analysis()
    if stats is None:
        return float("nan")
    return (
        stats.argument_size_in_bytes + stats.output_size_in_bytes + stats.temp_size_in_bytes - stats.alias_size_in_bytes
    )


def _bytes_accessed(compiled) -> float:
    analysis = compiled.cost_analysis()
    analysis = analysis[0] if isinstance(analysis, (list, tuple)) else analysis
    return float((analysis or {}).get("bytes accessed", float("nan")))


def prepare(config, mesh) -> dict:
    """Compile (cold, then warm from the persistent cache) and measure everything but the step time."""
    jitted = jit_training(config, mesh, NUM_CLASSES, 100, None, permutation_set(config))
    state = jitted.init(jax.random.key(0))
    batch = _random_batch(config, mesh)
    started = time.perf_counter()
    compiled = jitted.train_step.lower(state, batch, jitted.perceptual_params).compile()
    cold = time.perf_counter() - started
    jax.clear_caches()  # forget the compiled program in memory: the next compile can only come from the disk cache
    started = time.perf_counter()
    jitted.train_step.lower(state, batch, jitted.perceptual_params).compile()
    warm = time.perf_counter() - started
    return dict(
        config=config,
        compiled=compiled,
        state=state,
        batch=batch,
        perceptual_params=jitted.perceptual_params,
        times=[],
        compile_cold=cold,
        compile_warm=warm,
        peak=_peak_bytes(compiled),
        bytes=_bytes_accessed(compiled),
        flops=count_flops(jitted.train_step, state, batch, jitted.perceptual_params),
    )


def time_rounds(runs: list[dict], steps: int, rounds: int) -> None:
    for _ in range(rounds):
        for run in runs:
            state = run["state"]
            started = time.perf_counter()
            for _ in range(steps):
                state, metrics, _ = run["compiled"](state, run["batch"], run["perceptual_params"])
            jax.block_until_ready((state, metrics))
            run["times"].append((time.perf_counter() - started) / steps)
            run["state"] = state


def compiled_peak_bytes(config, mesh) -> float:
    """XLA's memory analysis of the step for `config`, compiled from shapes alone (nothing is allocated)."""
    jitted = jit_training(config, mesh, NUM_CLASSES, 100, None, permutation_set(config))
    state = jax.tree.map(
        lambda leaf, s: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=s),
        jitted.abstract_state,
        jitted.state_shardings,
    )
    size, rows = config.data.image_size, config.batch_size
    batch = {
        "image": jax.ShapeDtypeStruct((rows, size, size, 3), np.uint8, sharding=jitted.batch_sharding),
        "label": jax.ShapeDtypeStruct((rows,), np.int32, sharding=jitted.batch_sharding),
    }
    return _peak_bytes(jitted.train_step.lower(state, batch, jitted.perceptual_params).compile())


def largest_batch(make_config, mesh, start: int, limit_bytes: float, peak_bytes=compiled_peak_bytes) -> int:
    """The largest batch (a multiple of the device count, doubling then bisecting) whose step fits `limit_bytes`:
    `peak_bytes(config, mesh)` below it, by default XLA's memory analysis of the compiled step. 0 if none fits."""
    unit = jax.device_count()

    def fits(batch):
        try:
            return peak_bytes(make_config(batch), mesh) < limit_bytes
        except Exception:  # noqa: BLE001 - XLA refuses to compile what cannot fit
            return False

    low, high = 0, start
    while fits(high):
        low, high = high, high * 2
    while high - low > unit:
        middle = (low + high) // 2 // unit * unit
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def run(argv: list[str]) -> list[dict]:
    parser = argparse.ArgumentParser(
        prog="python -m hmtl_jax.tools.benchmark throughput",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--models", default="efficientnet_b0,resnet50")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--image_size", type=int, default=224)
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--dtype", choices=["bf16", "fp32"], default="bf16")
    parser.add_argument("--steps", type=int, default=20, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no_perceptual", action="store_true", help="in-painting without the VGG-16 loss")
    parser.add_argument("--torch", choices=["auto", "off"], default="auto")
    parser.add_argument("--torch_compile", action="store_true", help="also time torch.compile (minutes to compile)")
    parser.add_argument("--largest_batch", action="store_true")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every config")
    args = parser.parse_args(argv)
    models, tasks = args.models.split(","), args.tasks.split(",")
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        parser.error(f"unknown tasks {unknown}; choose from {TASKS}")
    bf16 = args.dtype == "bf16"

    scratch = tempfile.mkdtemp(prefix="hmtl_throughput_")  # the cache and the random VGG file; removed at exit
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    # An empty persistent cache of our own: the first compile is cold, the second is served from it.
    jax.config.update("jax_compilation_cache_dir", os.path.join(scratch, "xla"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    vgg = "" if args.no_perceptual else vgg16.write_random_weights(os.path.join(scratch, "vgg16_random.safetensors"))
    mesh = sharding.create_mesh()
    device = jax.devices()[0]
    matmul_rate = machine.matmul_flops_per_second(
        jax.numpy.bfloat16 if bf16 else jax.numpy.float32, 4096 if device.platform != "cpu" else 1024
    )
    bandwidth = machine.copy_bytes_per_second(1024 if device.platform != "cpu" else 128)

    runs = []
    for model in models:
        for task in tasks:
            config = task_config(model, task, args.image_size, args.batch_size, bf16, vgg, args.set)
            runs.append(dict(model=model, task=task, **prepare(config, mesh)))
            print(
                f"compiled {model} {task}: {runs[-1]['compile_cold']:.1f} s cold, "
                f"{runs[-1]['compile_warm']:.1f} s warm",
                flush=True,
            )
    time_rounds(runs, args.steps, args.rounds)

    print(
        f"\n{jax.device_count()} x {device.device_kind} ({device.platform}), {args.dtype}, batch {args.batch_size}; "
        f"measured matmul {matmul_rate / 1e12:.2f} TFLOP/s, copy {bandwidth / 1e9:.0f} GB/s; "
        f"median of {args.rounds} rounds x {args.steps} steps\n"
    )
    header = (
        f"{'model':<16}{'task':<9}{'px':>4}{'img/s':>9}{'ms/step':>9}{'vs SL':>7}{'cold s':>8}{'warm s':>8}"
        f"{'peak GiB':>9}{'GFLOP':>8}{'floor ms':>9}{'binds':>8}{'of floor':>9}"
    )
    print(header)
    sl_time = {run["model"]: statistics.median(run["times"]) for run in runs if run["task"] == "sl"}
    for run in runs:
        seconds = statistics.median(run["times"])
        compute, memory = run["flops"] / matmul_rate, run["bytes"] / bandwidth
        floor = max(compute, memory) if np.isfinite(memory) else compute
        reference = sl_time.get(run["model"])
        run.update(
            images_per_s=args.batch_size / seconds,
            ms=1e3 * seconds,
            floor_ms=1e3 * floor,
            vs_sl=seconds / reference if reference else float("nan"),
        )
        print(
            f"{run['model']:<16}{run['task']:<9}{run['config'].data.image_size:>4}{run['images_per_s']:>9.0f}"
            f"{run['ms']:>9.1f}{run['vs_sl']:>6.2f}x{run['compile_cold']:>8.1f}{run['compile_warm']:>8.1f}"
            f"{run['peak'] / GIB:>9.2f}{run['flops'] / 1e9:>8.1f}{run['floor_ms']:>9.1f}"
            f"{'compute' if compute >= memory or not np.isfinite(memory) else 'memory':>8}"
            f"{100 * floor / seconds:>8.0f}%"
        )

    if args.torch == "auto" and torch_reference.available():
        print()
        ours_sl = {run["model"]: run["images_per_s"] for run in runs if run["task"] == "sl"}
        for model in [m for m in models if m in torch_reference.MODELS]:
            ours = ours_sl.get(model, float("nan"))
            for compiled in (False, True) if args.torch_compile else (False,):
                rate, source = torch_reference.sl_images_per_second(
                    model, args.image_size, args.batch_size, bf16=bf16, compiled=compiled, steps=args.steps
                )
                print(f"PyTorch {model} SL ({source}): {rate:.0f} img/s; ours / PyTorch = {ours / rate:.2f}x")
                runs.append(dict(model=model, task=f"torch {source}", images_per_s=rate))

    if args.largest_batch:
        limit = (device.memory_stats() or {}).get("bytes_limit")
        for model in models:
            if not limit:
                print(f"largest batch: n/a on {device.platform} (no device memory limit to fit)")
                break
            largest = largest_batch(
                lambda b, m=model: task_config(m, "sl", args.image_size, b, bf16, vgg, args.set),
                mesh,
                args.batch_size,
                limit,
            )
            print(f"largest SL batch that fits, {model}: {largest}")
    return runs
