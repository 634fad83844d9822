"""Head pose with both auxiliary tasks (HMTL): configs/pose_300w_lp_sl.py plus jigsaw and in-painting.

Command:   python -m hmtl_jax.main --config=configs/pose_300w_lp_hmtl.py --workdir=workdirs/pose_300w_lp_hmtl \
               --config.data.data_dir=~/tensorflow_datasets
Data:      as configs/pose_300w_lp_sl.py.
Hardware:  one GPU or more (bf16).
Expected:  not run here (the data sets cannot be downloaded on our machines). The synthetic counterpart is
           configs/synthetic_head_pose_hmtl.py.
Settings:  225 px (3 whole jigsaw tiles); the design measured on the synthetic faces (synthetic_design: the head pose
           head on the clean face, BatchNorm statistics apart, no decoder skip connections); no perceptual loss.
"""

from hmtl_jax.config.recipes import add_hmtl, pose_300w_lp_base


def get_config():
    c = pose_300w_lp_base()
    c.data.image_size = 225
    add_hmtl(c)
    c.lock()
    return c
