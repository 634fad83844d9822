"""SL + jigsaw puzzling on the embedded synthetic faces (3 x 3 tiles of 16 px, 100 Hamming-distant permutations).

Command:   python -m hmtl_jax.main --config=configs/synthetic_puzzle.py --workdir=workdirs/synthetic_puzzle
           20 % of the training data, for the same number of steps: add
           --config.data.train_fraction=0.2 --config.num_epochs=50
Hardware:  any CPU.
Expected:  docs/RESULTS.md, rendered from docs/results.jsonl (100 % and 20 % of the training data).
"""

from hmtl_jax.config.recipes import add_puzzle, synthetic_base, synthetic_design


def get_config():
    c = synthetic_base()
    add_puzzle(c)
    synthetic_design(c)
    c.lock()
    return c
