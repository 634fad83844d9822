"""Config files and `key=value` overrides outside absl flags (tools, tests, notebooks), with the command line's rules:
values are Python literals (else strings) and an unknown key is an error, never a new setting."""

from __future__ import annotations

import ast
import importlib.util
import os
from collections.abc import Iterable, Mapping
from typing import Any

import ml_collections


def load_config(path: str, overrides: Iterable[str] = ()) -> ml_collections.ConfigDict:
    """`get_config()` of a config file (configs/*.py), with `key=value` overrides applied."""
    spec = importlib.util.spec_from_file_location(f"config_{os.path.basename(path)[:-3]}", path)
    if spec is None or not os.path.isfile(path):
        raise FileNotFoundError(f"no config file {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return apply_overrides(module.get_config(), overrides)


def parse_overrides(overrides: Iterable[str]) -> dict[str, Any]:
    """`["a.b=3", "c=adamw"]` -> {"a.b": 3, "c": "adamw"}, as `--config.a.b=3 --config.c=adamw` would parse."""
    parsed = {}
    for override in overrides:
        key, _, text = override.partition("=")
        try:
            parsed[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            parsed[key] = text  # a bare string
    return parsed


def apply_overrides(
    config: ml_collections.ConfigDict, overrides: Iterable[str] | Mapping[str, Any] = ()
) -> ml_collections.ConfigDict:
    """Set dotted keys (`key=value` strings, or a {dotted key: value} mapping) in place; return `config`."""
    values = overrides if isinstance(overrides, Mapping) else parse_overrides(overrides)
    for key, value in values.items():
        node = config
        *parents, leaf = key.split(".")
        for parent in parents:
            node = node[parent]
        if leaf not in node:
            raise KeyError(f"config has no key {key!r}")
        node[leaf] = value
    return config
