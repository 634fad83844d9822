"""What a rerun in the same workdir may change. A workdir holds one run: rerunning its command resumes it, and a
rerun with settings that would make it another run (model, tasks, shapes, data, schedule, seed) is refused, unless
`resume_policy` says the change is deliberate.

Pure functions of configs (as the JSON dicts the workdir records) and of the defaults: no files are read or written
here.
"""

from __future__ import annotations

import json
from typing import Any

import ml_collections

from hmtl_jax.config.defaults import base_config
from hmtl_jax.config.overrides import apply_overrides

# resume_policy: `same` refuses a rerun whose run-defining settings differ from the workdir's record; `changed`
# continues the workdir's checkpoint under the new settings (a longer schedule, another learning rate), as long as
# the saved state still fits the model.
RESUME_POLICIES = ("same", "changed")

# Settings a rerun may change freely: how often the run reports, evaluates and checkpoints, where this invocation
# stops, how its input is read, what it does on a NaN, where the compilation cache and the prepared data live. None
# of them changes what is trained, on what, or how.
FREE_KEYS = frozenset(
    {
        "log_every_steps",
        "progress_bar",
        "eval_every_epochs",
        "checkpoint_every_steps",
        "keep_checkpoints",
        "stop_at_step",
        "preview_images",
        "nonfinite",
        "max_skipped_steps",
        "compilation_cache_dir",
        "resume_policy",
        "data.data_dir",
        "data.test_size",  # evaluated after training, never trained on
        "input.worker_count",
        "input.read_threads",
        "input.prefetch_batches",
    }
)


def as_recorded(config: ml_collections.ConfigDict) -> dict[str, Any]:
    """The config as the workdir records it (JSON: tuples become lists), so a recorded and a live config compare."""
    return json.loads(config.to_json_best_effort())


def _flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def run_differences(recorded: dict, current: dict) -> dict[str, tuple[Any, Any]]:
    """{dotted key: (recorded value, current value)} for every run-defining key that differs; keys present in only one
    of the two (a config from another version) count as differing, with None on the side that lacks them, except a
    key the recorded run's version did not have yet, now at its default: a new key's default keeps the behaviour of
    the versions before it, so an upgrade does not stop a run from resuming."""
    old, new = _flatten(recorded), _flatten(current)
    defaults = _flatten(as_recorded(base_config()))

    def added_at_default(key: str) -> bool:
        return key not in old and key in defaults and new.get(key) == defaults[key]

    return {
        key: (old.get(key), new.get(key))
        for key in sorted(old.keys() | new.keys())
        if key not in FREE_KEYS and old.get(key) != new.get(key) and not added_at_default(key)
    }


def config_from_record(recorded: dict) -> ml_collections.ConfigDict:
    """The config a workdir recorded, on top of today's defaults: a key the recorded run's version did not have yet
    keeps its default (the behaviour of the versions before it); a key today's version does not know is an error."""
    config, values = base_config(), _flatten(recorded)
    unknown = sorted(set(values) - set(_flatten(as_recorded(config))))
    if unknown:
        raise KeyError(f"settings this version does not know: {', '.join(unknown[:5])} (recorded by a newer version?)")
    # JSON has lists where the config has tuples (it has no list settings).
    return apply_overrides(config, {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def describe(differences: dict[str, tuple[Any, Any]], limit: int = 6) -> str:
    """`model.name 'resnet_tiny' -> 'resnet18', jigsaw.weight 0.0 -> 1.0` (the first `limit`, then how many more)."""
    shown = [f"{key} {old!r} -> {new!r}" for key, (old, new) in list(differences.items())[:limit]]
    more = len(differences) - limit
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")
