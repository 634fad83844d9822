"""Where a run executes and what survives it: the device mesh and shardings (`sharding.py`), several JAX processes
(`distributed.py`), stop requests from signals and preemption (`preemption.py`), Orbax checkpoints of the state and
the input position, and starting from another run's (`checkpointing.py`), the workdir and its record of the run
(`workdir.py`), JAX's persistent compilation cache (`compilation_cache.py`), and the one path type for local
folders and gs:// buckets every file of a run goes through (`storage.py`).

Imports: jax, orbax, grain; from hmtl_jax only `errors` and `config.resume`.
"""
