"""Checks run before anything expensive, so a bad config or workdir fails in a second with a clear message."""

from __future__ import annotations

import os
import tempfile

import jax
import ml_collections

from hmtl_jax.data.augment import AUGMENT_LEVELS
from hmtl_jax.data.sources import DATASETS
from hmtl_jax.models import MODEL_NAMES
from hmtl_jax.optim import OPTIMIZERS, SCHEDULES


def check_config(config: ml_collections.ConfigDict) -> None:
    """Raise ValueError naming the first config value that cannot work."""
    choices = {
        "data.name": (config.data.name, DATASETS),
        "model.name": (config.model.name, MODEL_NAMES),
        "input.augment": (config.input.augment, AUGMENT_LEVELS),
        "optimizer.name": (config.optimizer.name, OPTIMIZERS),
        "schedule.name": (config.schedule.name, SCHEDULES),
        "sharding.strategy": (config.sharding.strategy, ("data", "fsdp")),
    }
    for key, (value, allowed) in choices.items():
        if value not in allowed:
            raise ValueError(f"config.{key}={value!r} is not one of {allowed}")
    devices = jax.device_count()
    if config.batch_size <= 0 or config.batch_size % devices:
        raise ValueError(
            f"config.batch_size={config.batch_size} must be a positive multiple of the number of devices ({devices}): "
            f"each device takes an equal share of the global batch. Try --config.batch_size="
            f"{max(devices, (config.batch_size // devices) * devices)}"
        )
    if config.data.image_size < 32:
        raise ValueError(f"config.data.image_size={config.data.image_size} is too small (at least 32)")
    if config.num_epochs <= 0:
        raise ValueError(f"config.num_epochs={config.num_epochs} must be positive")
    if not 0.0 < config.input.eval_crop_fraction <= 1.0:
        raise ValueError(f"config.input.eval_crop_fraction={config.input.eval_crop_fraction} must be in (0, 1]")


def check_workdir(workdir: str) -> str:
    """Create the workdir if needed and prove it is writable; return its absolute path."""
    path = os.path.abspath(os.path.expanduser(workdir))
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write_test"):
            pass
    except OSError as error:
        raise PermissionError(
            f"--workdir={workdir} cannot be written ({error.strerror}): checkpoints and logs go there. "
            "Pick a directory you can write to."
        ) from error
    return path


def enable_compilation_cache(cache_dir: str) -> None:
    """JAX's persistent compilation cache, so a rerun of the same config does not compile again."""
    if not cache_dir:
        return
    path = os.path.abspath(os.path.expanduser(cache_dir))
    os.makedirs(path, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
