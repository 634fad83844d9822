"""The run's working directory: created once, proven writable before anything expensive starts, and holding the
record of the run it belongs to, so that a rerun resumes that run and never another one.

The record is `config.json` (the config the run started with) and `data.json` (how many records each split had and
the class names). A rerun compares its own config and data with them (`hmtl_jax/config/resume.py` says which
settings may differ) before anything is compiled or restored.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile

import jax
import ml_collections

from hmtl_jax.config.resume import as_recorded, describe, run_differences
from hmtl_jax.errors import ConfigError, WorkdirError

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
DATA_FILE = "data.json"


def prepare_workdir(workdir: str) -> str:
    """Create the workdir if needed and prove it is writable; return its absolute path."""
    path = os.path.abspath(os.path.expanduser(workdir))
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write_test"):
            pass
    except OSError as error:
        raise WorkdirError(
            f"--workdir={workdir} cannot be written ({error.strerror}): checkpoints and logs go there. "
            "Pick a directory you can write to."
        ) from error
    return path


def _write_json(path: str, value: dict) -> None:
    """Written whole or not at all (a temporary file renamed into place), by process 0 only."""
    if jax.process_index() != 0:
        return
    temporary = f"{path}.tmp"
    with open(temporary, "w") as f:
        json.dump(value, f, indent=2)
    os.replace(temporary, path)


def _archive(path: str) -> str:
    """Keep the superseded record beside the new one: `config.json` -> `config.1.json`, `config.2.json`, ..."""
    stem, ext = os.path.splitext(path)
    number = 1
    while os.path.exists(f"{stem}.{number}{ext}"):
        number += 1
    if jax.process_index() == 0:
        os.replace(path, f"{stem}.{number}{ext}")
    return f"{stem}.{number}{ext}"


class RunRecord:
    """The workdir's record of its run: `check_config` and `check_data` compare a rerun with it before anything
    expensive; `write` records the run when it starts training, so a start that failed earlier (a missing data set,
    say) leaves nothing that would refuse the corrected command."""

    def __init__(self, workdir: str, config: ml_collections.ConfigDict):
        self.workdir, self.policy = workdir, config.resume_policy
        self.current = {CONFIG_FILE: as_recorded(config)}
        self.changed: list[str] = []  # the records that differ, under resume_policy=changed

    def _compare(self, name: str, what: str) -> None:
        path = os.path.join(self.workdir, name)
        if not os.path.exists(path):
            return
        with open(path) as f:
            differences = run_differences(json.load(f), self.current[name])
        if not differences:
            return
        if self.policy == "same":
            raise ConfigError(
                f"--workdir={self.workdir} holds a run with other {what}: {describe(differences)}. Use a new "
                "--workdir for a new run, or pass --config.resume_policy=changed to continue this run's checkpoint "
                "with the new settings (a longer schedule, say)"
            )
        log.warning("Continuing %s with changed %s (resume_policy=changed): %s", self.workdir, what,
                    describe(differences))  # fmt: skip
        self.changed.append(name)

    def check_config(self) -> None:
        self._compare(CONFIG_FILE, "settings")

    def check_data(self, train_records: int, validation_records: int, class_names: tuple[str, ...]) -> None:
        """The same data set settings can point at other data (prepared again, another data_dir)."""
        self.current[DATA_FILE] = {
            "train_records": train_records,
            "validation_records": validation_records,
            "class_names": list(class_names),
        }
        self._compare(DATA_FILE, "data")

    def write(self) -> None:
        """Record the run (a superseded record is kept as `config.1.json`, `data.1.json`, ...)."""
        for name, value in self.current.items():
            path = os.path.join(self.workdir, name)
            if name in self.changed:
                _archive(path)
            if name in self.changed or not os.path.exists(path):
                _write_json(path, value)
