"""What a run reads: random-access sources (the synthetic faces in `synthetic/`, data sets prepared by
`data_pipelines`), host-side augmentation, class-balanced sampling and stratified subsets, and the Grain pipelines
that turn sources into each process's share of every global batch.

Imports: numpy, PIL, Grain, TFDS's reader; of hmtl_jax outside data/ only `errors` and `supervised` (which label a
task reads). No JAX arrays: the host side only.
"""
