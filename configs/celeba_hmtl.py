"""Gender recognition on CelebA with both auxiliary tasks (HMTL): configs/celeba_sl.py plus jigsaw and in-painting.

Command:   python -m hmtl_jax.main --config=configs/celeba_hmtl.py --workdir=workdirs/celeba_hmtl \
               --config.data.data_dir=~/tensorflow_datasets
Data:      as configs/celeba_sl.py.
Hardware:  one GPU or more (bf16).
Expected:  not run here (CelebA cannot be downloaded on our machines). The synthetic counterpart is
           configs/synthetic_gender_hmtl.py.
Settings:  225 px (3 whole jigsaw tiles); the design measured on the synthetic faces (synthetic_design: the gender
           head on the clean face, BatchNorm statistics apart, no decoder skip connections); no perceptual loss.
"""

from hmtl_jax.config.recipes import add_hmtl, celeba_base


def get_config():
    c = celeba_base()
    c.data.image_size = 225
    add_hmtl(c)
    c.lock()
    return c
