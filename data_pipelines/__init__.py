"""Preparation of the real facial-expression data sets into ArrayRecord files (TFDS builders, manual download).

Run `python -m data_pipelines.prepare --help`. The trainer reads the result with `tfds` + Grain, without importing
this package.
"""
