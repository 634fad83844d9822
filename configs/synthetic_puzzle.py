"""SL + jigsaw puzzling on the embedded synthetic faces (3 x 3 tiles of 16 px, 100 Hamming-distant permutations).

Command:   python -m hmtl_jax.main --config=configs/synthetic_puzzle.py --workdir=workdirs/synthetic_puzzle
           (20 % of the training data: add --config.data.train_size=1200)
Hardware:  any CPU.
Expected:  validation accuracy 37.8 ± 1.5 % (100 %), 26.7 ± 2.4 % (20 %), 3 seeds (docs/RESULTS.md).
"""

from hmtl_jax.config.recipes import add_puzzle, synthetic_base


def get_config():
    c = synthetic_base()
    add_puzzle(c)
    c.lock()
    return c
