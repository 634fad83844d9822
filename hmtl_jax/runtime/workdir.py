"""The run's working directory: created once, proven writable before anything expensive starts, and holding the
record of the run it belongs to, so that a rerun resumes that run and never another one.

The record is `config.json` (the config the run started with) and `data.json` (how many records each split had and
the class names). A rerun compares its own config and data with them (`hmtl_jax/config/resume.py` says which
settings may differ) before anything is compiled or restored.
"""

from __future__ import annotations

import json
import logging
import uuid

import jax
import ml_collections
from etils import epath

from hmtl_jax.config.resume import as_recorded, describe, run_differences
from hmtl_jax.errors import ConfigError, WorkdirError
from hmtl_jax.runtime import storage

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
DATA_FILE = "data.json"


def prepare_workdir(workdir: str) -> epath.Path:
    """Create the workdir if needed (a local folder or a gs:// one) and prove it is writable; return its path."""
    path = storage.location(workdir)
    probe = path / f".write_test_{uuid.uuid4().hex}"  # one per process: the processes of a pod share the workdir
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise WorkdirError(
            f"--workdir={workdir} cannot be written ({error.strerror or error}): checkpoints and logs go there. "
            "Pick a directory you can write to."
        ) from error
    return path


def _write_json(path: epath.Path, value: dict) -> None:
    """Written whole or not at all, by process 0 only."""
    if jax.process_index() == 0:
        storage.write_whole(path, json.dumps(value, indent=2))


def _archive(path: epath.Path) -> None:
    """Keep the superseded record beside the new one: `config.json` -> `config.1.json`, `config.2.json`, ..."""
    number = 1
    while path.with_name(f"{path.stem}.{number}{path.suffix}").exists():
        number += 1
    if jax.process_index() == 0:
        storage.move(path, path.with_name(f"{path.stem}.{number}{path.suffix}"))


class RunRecord:
    """The workdir's record of its run: `check_config` and `check_data` compare a rerun with it before anything
    expensive; `write` records the run when it starts training, so a start that failed earlier (a missing data set,
    say) leaves nothing that would refuse the corrected command."""

    def __init__(self, workdir: epath.Path, config: ml_collections.ConfigDict):
        self.workdir, self.policy = workdir, config.resume_policy
        self.current = {CONFIG_FILE: as_recorded(config)}
        self.changed: list[str] = []  # the records that differ, under resume_policy=changed

    def _compare(self, name: str, what: str) -> None:
        path = self.workdir / name
        if not path.exists():
            return
        differences = run_differences(json.loads(path.read_text()), self.current[name])
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
            path = self.workdir / name
            if name in self.changed:
                _archive(path)
            if name in self.changed or not path.exists():
                _write_json(path, value)
