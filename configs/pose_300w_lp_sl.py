"""Head pose, supervised only (SL): ResNet-50 from scratch trained on 300W-LP, evaluated on AFLW2000.

Command:   python -m hmtl_jax.main --config=configs/pose_300w_lp_sl.py --workdir=workdirs/pose_300w_lp_sl \
               --config.data.data_dir=~/tensorflow_datasets
Data:      300W-LP and AFLW2000-3D, each prepared once into the same --data_dir (docs/DATASETS.md):
               python -m data_pipelines.prepare pose_300w_lp --manual_dir /path/to/300W_LP --data_dir D
               python -m data_pipelines.prepare pose_aflw2000 --manual_dir /path/to/AFLW2000 --data_dir D
           (D: ~/tensorflow_datasets, or the --config.data.data_dir you pass)
Hardware:  one GPU or more (bf16).
Expected:  not run here (the data sets cannot be downloaded on our machines). The synthetic counterpart is
           configs/synthetic_head_pose_sl.py.
Settings:  pose_300w_lp_base (hmtl_jax/config/recipes.py); the loss: hmtl_jax/supervised/head_pose.py.
"""

from hmtl_jax.config.recipes import pose_300w_lp_base


def get_config():
    c = pose_300w_lp_base()
    c.lock()
    return c
