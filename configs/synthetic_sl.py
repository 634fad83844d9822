"""Supervised baseline (SL) on the embedded synthetic faces: the reference for synthetic_{puzzle,inpaint,hmtl}.py.

Command:   python -m hmtl_jax.main --config=configs/synthetic_sl.py --workdir=workdirs/synthetic_sl
           20 % of the training data, for the same number of steps: add
           --config.data.train_fraction=0.2 --config.num_epochs=50
Hardware:  any CPU.
Expected:  test accuracy 68.4 ± 2.8 % (100 %) and 21.8 ± 1.2 % (20 %), seeds 0-2, about 3 min a run on 2 CPU
           cores; seed 0 gives 68.4 % and 20.6 % (docs/results.jsonl, study final; docs/RESULTS.md).
"""

from hmtl_jax.config.recipes import synthetic_base


def get_config():
    c = synthetic_base()
    c.lock()
    return c
