"""Where a run executes and what survives it: the device mesh and shardings (`sharding.py`), several JAX processes
(`distributed.py`), stop requests from signals and preemption (`preemption.py`), Orbax checkpoints of the state and
the input position, and starting from another run's (`checkpointing.py`), the workdir and its record of the run
(`workdir.py`), and JAX's persistent compilation cache (`compilation_cache.py`).

Imports: jax, orbax, grain; from hmtl_jax only `errors` and `config.resume`.
"""
