"""Supervised fine-tuning on the embedded synthetic faces from the backbone of configs/synthetic_pretrain_inpaint.py:
the second stage of the two-stage recipe that HMTL (configs/synthetic_hmtl.py) is compared with.

Command:   python -m hmtl_jax.main --config=configs/synthetic_finetune_inpaint.py \
               --workdir=workdirs/synthetic_finetune_inpaint
           (after the pre-training, whose workdir config.init_from names; another one with
           --config.init_from=WORKDIR). 20 % of the labels, for as many steps as the one-stage rows: add
           --config.data.train_fraction=0.2 --config.num_epochs=24
Budget:    5 epochs of SL (465 steps) after the pre-training's 465: 930 steps, as the one-stage configs.
Hardware:  any CPU.
Expected:  test accuracy 46.1 ± 2.3 % (100 %) and 28.4 ± 2.1 % (20 %), seeds 0-2 (each from the pre-training of its
           seed), against SL's 68.4 and 21.8 and configs/synthetic_inpaint.py's 66.0 and 23.2
           (docs/results.jsonl, study final; docs/RESULTS.md, "Pre-training, then fine-tuning"). About 1.5 min a
           run on 2 CPU cores. At 20 % the pre-training saw all 6,000 faces, the one-stage runs 1,200 (see there).
"""

from hmtl_jax.config.recipes import ssl_finetune, synthetic_base


def get_config():
    c = synthetic_base()
    ssl_finetune(c, "workdirs/synthetic_pretrain_inpaint")
    c.lock()
    return c
