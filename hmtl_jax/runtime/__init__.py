"""Where a run executes and what survives it: the device mesh and shardings (`sharding.py`), several JAX processes
(`distributed.py`), stop requests from signals and preemption (`preemption.py`), Orbax checkpoints of the state and
the input position (`checkpointing.py`), the workdir (`workdir.py`) and JAX's persistent compilation cache
(`compilation_cache.py`).

Imports: jax, orbax, grain; nothing of hmtl_jax.
"""
