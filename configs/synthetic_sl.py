"""Supervised baseline (SL) on the embedded synthetic faces: the reference for synthetic_{puzzle,inpaint,hmtl}.py.

Command:   python -m hmtl_jax.main --config=configs/synthetic_sl.py --workdir=workdirs/synthetic_sl
           20 % of the training data, for the same number of steps: add
           --config.data.train_fraction=0.2 --config.num_epochs=50
Hardware:  any CPU.
Expected:  validation accuracy 69.2 % (100 %) and 21.1 % (20 %), seed 0 (docs/results.jsonl, study design;
           docs/RESULTS.md).
"""

from hmtl_jax.config.recipes import synthetic_base


def get_config():
    c = synthetic_base()
    c.lock()
    return c
