"""Tools that use the library to measure it: `python -m hmtl_jax.tools.sweep` (configs x train fractions x seeds,
one process each, one JSON record per run), `python -m hmtl_jax.tools.results_tables` (the records' tables in a
document), `python -m hmtl_jax.tools.benchmark` (step time, throughput, input pipeline, prediction) and
`python -m hmtl_jax.tools.face_margin` (prediction's crop margin, by accuracy). Nothing in the library imports them.
"""
