"""TODO

Command:   python -m hmtl_jax.main --config=configs/synthetic_head_pose_hmtl.py --workdir=workdirs/synthetic_head_pose_hmtl
"""

from hmtl_jax.config.recipes import add_inpaint, add_puzzle, synthetic_base, synthetic_design


def get_config():
    c = synthetic_base()
    add_puzzle(c)
    add_inpaint(c, perceptual=False)
    synthetic_design(c)
    c.task = "head_pose"
    c.lock()
    return c
