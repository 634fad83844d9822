"""hmtl_jax: facial-emotion recognition trained jointly with self-supervised auxiliary tasks (HMTL) in JAX.

`python -m hmtl_jax.main --config=configs/demo.py --workdir=workdirs/demo` trains; from Python,
`hmtl_jax.training.loop.train_and_evaluate(config, workdir)`. The sub-packages, from the bottom up: `config/` (what
a run is), `data/` (what it reads), `models/` and `pretext/` (what it computes), `runtime/` (where it runs and what
survives a crash), `reporting/` (what it writes down), `training/` (the loop that ties them together), `inference/`
(a trained workdir's model, used: `python -m hmtl_jax.predict`, `.evaluate`, `.export`), and `tools/` (sweeps and
benchmarks, which use the library and are never used by it).
"""
