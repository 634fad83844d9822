"""TODO

Command:   python -m hmtl_jax.main --config=configs/synthetic_gender_hmtl.py --workdir=workdirs/synthetic_gender_hmtl
"""

from hmtl_jax.config.recipes import add_inpaint, add_puzzle, synthetic_base, synthetic_design


def get_config():
    c = synthetic_base()
    add_puzzle(c)
    add_inpaint(c, perceptual=False)
    synthetic_design(c)
    c.task = "gender"
    c.lock()
    return c
