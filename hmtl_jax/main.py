"""Command line: python -m hmtl_jax.main --config=configs/demo.py --workdir=workdirs/demo [--config.key=value ...]

Kept tiny so a notebook can `from hmtl_jax.training.loop import train_and_evaluate` and call it with a config object.
Exit status: 0 when training finished or stopped on request (SIGTERM, Ctrl-C) with a checkpoint; 1 with a message
when the loss stopped being finite; 2 with one line on stderr for a mistake in the command (a setting, a file, a
workdir), with the traceback too under --verbose; 130 for a Ctrl-C outside the train steps (e.g. while the data
are read) or a second one during them; otherwise (a bug) the traceback.
"""

import logging
import sys

from absl import app, flags
from ml_collections import config_flags

from hmtl_jax.errors import UserError
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
_VERBOSE = flags.DEFINE_bool("verbose", False, "Show the traceback of a mistake in the command too.")
flags.mark_flags_as_required(["config", "workdir"])


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().strip("\"'")
    return text.splitlines()[0] if text else type(error).__name__


def parse_flags(argv: list[str]) -> list[str]:
    """absl's parsing, with every mistake in the flags (a misspelt config key, a config file that is missing or does
    not load, a value of the wrong type) reported as one line."""
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:  # absl's own: a bad value, a missing required flag
        _fail(_first_line(error))
    except Exception as error:  # noqa: BLE001 - the config file or an override: the user's input either way
        if "--verbose" in argv:
            raise
        name = _first_line(error)
        overrides = [a.split("=")[0].removeprefix("--") for a in argv if a.startswith("--config.")]
        named = [o for o in overrides if name in o.split(".")] if isinstance(error, (KeyError, AttributeError)) else []
        if named:  # ml_collections: an override of a key the config does not have
            _fail(f"the config has no key {name} (in --{named[0]}); every key and its default: "
                  "hmtl_jax/config/defaults.py")  # fmt: skip
        _fail(f"the config file could not be loaded: {type(error).__name__}: {name}")
    return []


def _load_config():
    """The --config flag loads its file lazily: a file that is missing or fails to run raises at first use, here,
    and is reported as one line (the detail is the message's last line)."""
    try:
        config = _CONFIG.value
        config.get("seed")
        return config
    except Exception as error:  # noqa: BLE001 - the user's config file
        if _VERBOSE.value:
            raise
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        _fail(f"--config={flags.FLAGS['config'].serialize().split('=', 1)[-1]} could not be loaded: "
              f"{lines[-1] if lines else type(error).__name__}")  # fmt: skip


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    logging.getLogger().setLevel(logging.INFO)
    # Orbax (through absl) and JAX log every checkpoint and backend probe at INFO: keep the console to our progress.
    for noisy in ("absl", "jax"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        distributed.initialize(_DISTRIBUTED.value)
        train_and_evaluate(_load_config(), _WORKDIR.value)
    except KeyboardInterrupt:  # Ctrl-C outside the train steps (during them StopRequests saves and returns)
        logging.warning("Ctrl-C outside the train steps: stopped; the newest checkpoint, if any, is kept")
        sys.exit(130)
    except NonFiniteLoss as error:
        logging.error("%s", error)
        sys.exit(1)
    except UserError as error:
        if _VERBOSE.value:
            raise
        _fail(_first_line(error))


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
