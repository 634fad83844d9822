"""JAX's persistent compilation cache, so a rerun of the same config loads its compiled steps instead of
compiling them again."""

from __future__ import annotations

import jax

from hmtl_jax.runtime import storage


def enable_compilation_cache(cache_dir: str) -> None:
    """Cache every compilation that takes over half a second in `cache_dir`, a local folder or a gs:// one that the
    hosts of a pod share ("" leaves the cache off)."""
    if not cache_dir:
        return
    path = storage.location(cache_dir)
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
