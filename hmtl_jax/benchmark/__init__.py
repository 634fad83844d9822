"""Benchmarks that print figures: `python -m hmtl_jax.benchmark <name> ...` (see __main__.py)."""
