"""Supervised baseline (SL) on the embedded synthetic faces: the reference for synthetic_{puzzle,inpaint,hmtl}.py.

Command:   python -m hmtl_jax.main --config=configs/synthetic_sl.py --workdir=workdirs/synthetic_sl
           (20 % of the training data: add --config.data.train_size=1200)
Hardware:  any CPU (2 cores: about 2 minutes).
Expected:  validation accuracy 66.8 ± 3.9 % (100 %), 22.2 ± 0.5 % (20 %), 3 seeds (docs/RESULTS.md).
"""

from hmtl_jax.config.recipes import synthetic_base


def get_config():
    c = synthetic_base()
    c.lock()
    return c
