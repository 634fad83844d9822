"""Head pose, supervised only (SL), on the embedded synthetic faces: configs/synthetic_sl.py with config.task=head_pose
(yaw, pitch and roll in degrees; 66 bins of 3 degrees plus the L1 error of their expectation, as Hopenet).

Command:   python -m hmtl_jax.main --config=configs/synthetic_head_pose_sl.py --workdir=workdirs/synthetic_head_pose_sl
           20 % of the training data, for the same number of steps: add
           --config.data.train_fraction=0.2 --config.num_epochs=50
Hardware:  any CPU.
Expected:  test mean absolute error 2.78 ± 0.14 degrees (100 %) and 6.28 ± 0.17 (20 %), seeds 0-2, about 3 min a
           run on 2 CPU cores (docs/results.jsonl, study head_pose; docs/RESULTS.md).
"""

from hmtl_jax.config.recipes import synthetic_base


def get_config():
    c = synthetic_base()
    c.task = "head_pose"
    c.lock()
    return c
