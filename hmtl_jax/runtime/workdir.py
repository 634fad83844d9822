"""The run's working directory: created once, proven writable before anything expensive starts."""

from __future__ import annotations

import os
import tempfile


def prepare_workdir(workdir: str) -> str:
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
