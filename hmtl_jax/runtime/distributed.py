"""Several JAX processes: a TPU pod slice, GPU hosts, or (for tests) several processes on one CPU machine.

    HMTL_COORDINATOR_ADDRESS=localhost:12355 HMTL_NUM_PROCESSES=2 HMTL_PROCESS_ID=0 python -m hmtl_jax.main ...
    python -m hmtl_jax.main --distributed ...     # a cluster JAX detects by itself (TPU pods, SLURM, ...)

Every process runs the same command; each reads its own share of the data and they train one model together.
"""

from __future__ import annotations

import logging
import os

import jax

from hmtl_jax.errors import ConfigError

log = logging.getLogger(__name__)

ENVIRONMENT = ("HMTL_COORDINATOR_ADDRESS", "HMTL_NUM_PROCESSES", "HMTL_PROCESS_ID")


def initialize(detect: bool = False) -> None:
    """Join the other processes if the environment names a coordinator, or if `detect`; otherwise do nothing."""
    address = os.environ.get(ENVIRONMENT[0])
    if not address and not detect:
        return
    # Collectives between CPU processes need a transport; this does not affect GPU or TPU backends.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    if address:
        missing = [name for name in ENVIRONMENT[1:] if name not in os.environ]
        if missing:
            raise ConfigError(f"{ENVIRONMENT[0]} is set but {', '.join(missing)} is not: set all three")
        jax.distributed.initialize(
            coordinator_address=address,
            num_processes=int(os.environ[ENVIRONMENT[1]]),
            process_id=int(os.environ[ENVIRONMENT[2]]),
        )
    else:
        jax.distributed.initialize()
    log.info(
        "Process %d of %d, %d local of %d devices",
        jax.process_index(),
        jax.process_count(),
        jax.local_device_count(),
        jax.device_count(),
    )
