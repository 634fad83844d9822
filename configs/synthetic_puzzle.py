"""SL + jigsaw puzzling on the embedded synthetic faces (3 x 3 tiles of 16 px, 100 Hamming-distant permutations).

Command:   python -m hmtl_jax.main --config=configs/synthetic_puzzle.py --workdir=workdirs/synthetic_puzzle
           20 % of the training data, for the same number of steps: add
           --config.data.train_fraction=0.2 --config.num_epochs=50
Design:    synthetic_design (hmtl_jax/config/recipes.py), chosen on the validation faces: the emotion head on the
           clean face, BatchNorm statistics kept apart. The paper's one pass instead:
           --config.pretext.emotion_view=pretext --config.pretext.batch_norm=joint
Hardware:  any CPU.
Expected:  test accuracy 70.3 ± 1.6 % (100 %) and 28.1 ± 0.3 % (20 %), seeds 0-2, against SL's 68.4 and 21.8
           (docs/results.jsonl, study final; docs/RESULTS.md). About 5 min a run on 2 CPU cores.
"""

from hmtl_jax.config.recipes import add_puzzle, synthetic_base, synthetic_design


def get_config():
    c = synthetic_base()
    add_puzzle(c)
    synthetic_design(c)
    c.lock()
    return c
