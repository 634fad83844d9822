"""TODO

Command:   python -m hmtl_jax.main --config=configs/synthetic_head_pose_sl.py --workdir=workdirs/synthetic_head_pose_sl
"""

from hmtl_jax.config.recipes import synthetic_base


def get_config():
    c = synthetic_base()
    c.task = "head_pose"
    c.lock()
    return c
