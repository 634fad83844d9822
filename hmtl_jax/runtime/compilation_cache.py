"""JAX's persistent compilation cache, so a rerun of the same config loads its compiled steps instead of
compiling them again."""

from __future__ import annotations

import os

import jax


def enable_compilation_cache(cache_dir: str) -> None:
    """Cache every compilation that takes over half a second in `cache_dir` ("" leaves the cache off)."""
    if not cache_dir:
        return
    path = os.path.abspath(os.path.expanduser(cache_dir))
    os.makedirs(path, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
