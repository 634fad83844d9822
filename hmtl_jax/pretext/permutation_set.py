"""The jigsaw permutation set a run classifies: a function of the config, saved in the workdir so that a resumed
run can prove it still draws the same set (its jigsaw head was trained on those classes)."""

from __future__ import annotations

import io

import jax
import ml_collections
import numpy as np
from etils import epath

from hmtl_jax.config.tasks import task_on
from hmtl_jax.errors import ConfigError
from hmtl_jax.pretext import jigsaw
from hmtl_jax.runtime import storage

FILE_NAME = "jigsaw_permutations.txt"


def permutation_set(config: ml_collections.ConfigDict) -> np.ndarray | None:
    """The fixed jigsaw permutation set the run draws from (None without jigsaw or with uniform permutations)."""
    if not task_on(config, "jigsaw") or config.jigsaw.permutations == "uniform":
        return None
    return jigsaw.hamming_permutation_set(
        config.jigsaw.grid, config.jigsaw.num_permutations, config.jigsaw.permutation_seed
    )


def workdir_permutation_set(config: ml_collections.ConfigDict, workdir: epath.Path) -> np.ndarray | None:
    """`permutation_set(config)`, written to `<workdir>/jigsaw_permutations.txt` (one permutation of the row-major
    tile indices per line; line k is class k) on the first run and checked against it on every resume."""
    perms = permutation_set(config)
    if perms is None:
        return None
    path = workdir / FILE_NAME
    if path.exists():
        saved = np.loadtxt(io.StringIO(path.read_text()), dtype=np.int32, ndmin=2)
        if saved.shape != perms.shape or np.any(saved != perms):
            raise ConfigError(
                f"{path} holds another permutation set than config.jigsaw asks for: the jigsaw head of this "
                "checkpoint was trained on those classes. Use a new --workdir, or the jigsaw settings of the run."
            )
    elif jax.process_index() == 0:
        text = io.StringIO()
        np.savetxt(text, perms, fmt="%d")
        storage.write_whole(path, text.getvalue())
    return perms
