"""HMTL on the embedded synthetic faces: emotion + jigsaw + in-painting in one step (views composed: each face is
puzzled, then masked; see docs/HMTL.md). Perceptual loss off, as synthetic_inpaint.py.

Command:   python -m hmtl_jax.main --config=configs/synthetic_hmtl.py --workdir=workdirs/synthetic_hmtl
           20 % of the training data, for the same number of steps: add
           --config.data.train_fraction=0.2 --config.num_epochs=50
Hardware:  any CPU.
Expected:  docs/RESULTS.md, rendered from docs/results.jsonl (100 % and 20 % of the training data).
"""

from hmtl_jax.config.recipes import add_inpaint, add_puzzle, synthetic_base, synthetic_design


def get_config():
    c = synthetic_base()
    add_puzzle(c)
    add_inpaint(c, perceptual=False)
    synthetic_design(c)
    c.lock()
    return c
