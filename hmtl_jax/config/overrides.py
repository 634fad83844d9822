"""Load a config file (configs/*.py) with `key=value` overrides outside absl flags, as `--config.key=value` does."""

from __future__ import annotations

import ast
import importlib.util
import os

import ml_collections


def load_config(path: str, overrides: list[str] = ()) -> ml_collections.ConfigDict:
    spec = importlib.util.spec_from_file_location(f"config_{os.path.basename(path)[:-3]}", path)
    if spec is None or not os.path.isfile(path):
        raise FileNotFoundError(f"no config file {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return apply_overrides(module.get_config(), overrides)


def apply_overrides(config: ml_collections.ConfigDict, overrides: list[str] = ()) -> ml_collections.ConfigDict:
    """`key=value` strings applied as `--config.key=value` would (values parsed as Python literals)."""
    for override in overrides:
        key, _, text = override.partition("=")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text  # a bare string
        node = config
        *parents, leaf = key.split(".")
        for parent in parents:
            node = node[parent]
        node[leaf] = value  # a locked config raises on an unknown key, as on the command line
    return config
