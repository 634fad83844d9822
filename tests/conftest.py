"""Test setup: eight simulated CPU devices, so sharding is real in every test.

XLA reads the flag once, when the backend starts, so it must be set before anything imports jax.
"""

import os

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")


import pytest  # noqa: E402  (after the XLA flag, which must come first)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    """One persistent compilation cache for the whole session: JAX initialises its cache once per process, so every
    test that trains must share the directory; later runs of the same step skip compilation."""
    return str(tmp_path_factory.mktemp("xla_cache"))
