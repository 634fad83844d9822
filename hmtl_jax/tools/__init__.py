"""Tools that use the library to measure it: `python -m hmtl_jax.tools.sweep` (configs x train sizes x seeds, one
process each) and `python -m hmtl_jax.tools.benchmark` (step time, throughput, input pipeline). Nothing in the
library imports them.
"""
