"""TODO

Command:   python -m hmtl_jax.main --config=configs/synthetic_gender_sl.py --workdir=workdirs/synthetic_gender_sl
"""

from hmtl_jax.config.recipes import synthetic_base


def get_config():
    c = synthetic_base()
    c.task = "gender"
    c.lock()
    return c
