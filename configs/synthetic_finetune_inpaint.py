"""Supervised fine-tuning on the embedded synthetic faces from the backbone of configs/synthetic_pretrain_inpaint.py:
the second stage of the two-stage recipe that HMTL (configs/synthetic_hmtl.py) is compared with.

Command:   python -m hmtl_jax.main --config=configs/synthetic_finetune_inpaint.py \
               --workdir=workdirs/synthetic_finetune_inpaint
           (after the pre-training, whose workdir config.init_from names; another one with
           --config.init_from=WORKDIR). 20 % of the labels, for as many steps as the HMTL row: add
           --config.data.train_fraction=0.2 --config.num_epochs=24
Budget:    5 epochs of SL (465 steps) after the pre-training's 465: 930 steps, as the one-stage configs.
Hardware:  any CPU.
Expected:  not measured yet.
"""

from hmtl_jax.config.recipes import ssl_finetune, synthetic_base


def get_config():
    c = synthetic_base()
    ssl_finetune(c, "workdirs/synthetic_pretrain_inpaint")
    c.lock()
    return c
