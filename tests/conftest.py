"""Test setup: eight simulated CPU devices, so sharding is real in every test.

XLA reads its flags once, when the backend starts, so they must be set before anything imports jax. The subprocesses
the tests start inherit them. (Compiling without XLA's backend optimisations halved the compile-bound tests, but the
whole suite, from a clean clone on the 2-core machine, took 20 min 25 s with it against 11 min 23 s without.)

One persistent compilation cache serves the whole session, set the same way (an environment variable JAX reads when
it starts): many tests compile the same programs (a model's initialisation, the evaluation step, the train step of
one config in two tests), and each is compiled once per session instead of once per test. The directory is new for
every session, so a clean clone still compiles each program once. Measured: tests/test_hmtl_step.py on its own took
251 s of CPU without it and 178 s with it.
"""

import os

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import atexit  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

if "JAX_COMPILATION_CACHE_DIR" not in os.environ:  # the first process of the session (pytest-xdist's workers inherit)
    _cache = tempfile.mkdtemp(prefix="hmtl_jax_tests_xla_cache_")
    atexit.register(shutil.rmtree, _cache, ignore_errors=True)
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _cache
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0.5"  # as hmtl_jax.runtime.compilation_cache


import pytest  # noqa: E402  (after the XLA flag, which must come first)


@pytest.fixture(scope="session")
def cache_dir():
    """The session's persistent compilation cache, for configs (`config.compilation_cache_dir`) of runs in this
    process and in subprocesses. JAX opens its cache once per process, so in-process runs must name this one."""
    return os.environ["JAX_COMPILATION_CACHE_DIR"]
