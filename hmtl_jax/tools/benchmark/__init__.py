"""Benchmarks that print figures: `python -m hmtl_jax.tools.benchmark <name> ...` (see __main__.py)."""
