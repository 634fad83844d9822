"""Gender recognition on CelebA, supervised only (SL): EfficientNet-B0 from scratch at 224 px.

Command:   python -m hmtl_jax.main --config=configs/celeba_sl.py --workdir=workdirs/celeba_sl \
               --config.data.data_dir=~/tensorflow_datasets
Data:      CelebA's aligned faces and annotation files, prepared once (docs/DATASETS.md):
               python -m data_pipelines.prepare celeba --manual_dir /path/to/CelebA --data_dir ~/tensorflow_datasets
Hardware:  one GPU or more (bf16).
Expected:  not run here (CelebA cannot be downloaded on our machines). The synthetic counterpart is
           configs/synthetic_gender_sl.py. Report on the test split with --config.data.eval_split=test.
Settings:  celeba_base (hmtl_jax/config/recipes.py).
"""

from hmtl_jax.config.recipes import celeba_base


def get_config():
    c = celeba_base()
    c.lock()
    return c
