"""Command line: python -m hmtl_jax.main --config=configs/demo.py --workdir=workdirs/demo [--config.key=value ...]

Kept tiny so a notebook can `from hmtl_jax.train import train_and_evaluate` and call it with a config object.
"""

import logging

from absl import app, flags
from ml_collections import config_flags

from hmtl_jax.train import train_and_evaluate

_CONFIG = config_flags.DEFINE_config_file("config", None, "Path to an ml_collections config file.", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics.jsonl and TensorBoard events.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    logging.getLogger().setLevel(logging.INFO)
    # Orbax (through absl) and JAX log every checkpoint and backend probe at INFO: keep the console to our progress.
    for noisy in ("absl", "jax"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    train_and_evaluate(_CONFIG.value, _WORKDIR.value)


if __name__ == "__main__":
    app.run(main)
