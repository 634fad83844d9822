"""Self-supervised pretext tasks, built on the accelerator inside the train step from its PRNG key: jigsaw puzzles
(`jigsaw.py`) with their fixed permutation set (`permutation_set.py`), in-painting masks (`masks.py`), the training
view that combines them (`views.py`), and their losses (`losses.py`).

Imports: jax, and from hmtl_jax only `config.tasks` and `models.vgg16` (the perceptual network).
"""
