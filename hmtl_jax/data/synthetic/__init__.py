"""The embedded synthetic-face data set: a renderer of parametric faces (`renderer.py`), the Grain source that draws
them deterministically per index in AffectNet-8's classes (`faces.py`), photos with such faces in them for face
detection (`photos.py`), and two tools: the sample picture
(`python -m hmtl_jax.data.synthetic.sample_grid`) and the linear probe that shows the task needs a CNN
(`python -m hmtl_jax.data.synthetic.linear_probe`).

Imports: numpy, PIL, and hmtl_jax.data alone.
"""
