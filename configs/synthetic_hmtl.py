"""HMTL on the embedded synthetic faces: emotion + jigsaw + in-painting in one step (views composed: each face is
puzzled, then masked; see docs/HMTL.md). Perceptual loss off, as synthetic_inpaint.py.

Command:   python -m hmtl_jax.main --config=configs/synthetic_hmtl.py --workdir=workdirs/synthetic_hmtl
           20 % of the training data, for the same number of steps: add
           --config.data.train_fraction=0.2 --config.num_epochs=50
Design:    synthetic_design (hmtl_jax/config/recipes.py), chosen on the validation faces: the emotion head on the
           clean face, BatchNorm statistics kept apart, the decoder without skip connections. The paper's one
           pass instead: --config.pretext.emotion_view=pretext --config.pretext.batch_norm=joint
           --config.inpaint.skip_connections=True
Hardware:  any CPU.
Expected:  test accuracy 66.2 ± 1.3 % (100 %) and 25.8 ± 0.6 % (20 %), seeds 0-2, against SL's 68.4 and 21.8
           (docs/results.jsonl, study final; docs/RESULTS.md). About 6 min a run on 2 CPU cores.
"""

from hmtl_jax.config.recipes import add_hmtl, synthetic_base


def get_config():
    c = synthetic_base()
    add_hmtl(c)
    c.lock()
    return c
