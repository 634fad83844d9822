"""Head pose with both auxiliary tasks (HMTL) on the embedded synthetic faces: configs/synthetic_hmtl.py with
config.task=head_pose (the design chosen for emotion: the head pose head on the clean face, BatchNorm apart).

Command:   python -m hmtl_jax.main --config=configs/synthetic_head_pose_hmtl.py \
               --workdir=workdirs/synthetic_head_pose_hmtl
           20 % of the training data, for the same number of steps: add
           --config.data.train_fraction=0.2 --config.num_epochs=50
Hardware:  any CPU.
Expected:  test mean absolute error 2.93 ± 0.09 degrees (100 %) and 5.02 ± 0.20 (20 %), seeds 0-2, against SL's
           2.78 and 6.28 (docs/results.jsonl, study head_pose; docs/RESULTS.md). About 6.5 min a run on 2 CPU cores.
"""

from hmtl_jax.config.recipes import add_hmtl, synthetic_base


def get_config():
    c = synthetic_base()
    add_hmtl(c)
    c.task = "head_pose"
    c.lock()
    return c
