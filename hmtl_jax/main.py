"""Command line: python -m hmtl_jax.main --config=configs/demo.py --workdir=workdirs/demo [--config.key=value ...]

Kept tiny so a notebook can `from hmtl_jax.training.loop import train_and_evaluate` and call it with a config object.
Exit status: 0 when training finished or stopped on request (SIGTERM, Ctrl-C) with a checkpoint; 1 with a message
when the loss stopped being finite; otherwise the error's traceback.
"""

import logging
import sys

from absl import app, flags
from ml_collections import config_flags

from hmtl_jax.runtime import distributed
from hmtl_jax.training.loop import train_and_evaluate
from hmtl_jax.training.nonfinite import NonFiniteLoss

_CONFIG = config_flags.DEFINE_config_file("config", None, "Path to an ml_collections config file.", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics.jsonl and TensorBoard events.")
_DISTRIBUTED = flags.DEFINE_bool(
    "distributed",
    False,
    "Join the other JAX processes of a cluster JAX detects itself (TPU pod, SLURM). A local "
    "group is set with HMTL_COORDINATOR_ADDRESS, HMTL_NUM_PROCESSES and HMTL_PROCESS_ID instead.",
)
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    logging.getLogger().setLevel(logging.INFO)
    # Orbax (through absl) and JAX log every checkpoint and backend probe at INFO: keep the console to our progress.
    for noisy in ("absl", "jax"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    distributed.initialize(_DISTRIBUTED.value)
    try:
        train_and_evaluate(_CONFIG.value, _WORKDIR.value)
    except NonFiniteLoss as error:
        logging.error("%s", error)
        sys.exit(1)


if __name__ == "__main__":
    app.run(main)
