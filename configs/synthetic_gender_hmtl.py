"""Gender with both auxiliary tasks (HMTL) on the embedded synthetic faces: configs/synthetic_hmtl.py with
config.task=gender (the design chosen for emotion: the gender head on the clean face, BatchNorm apart).

Command:   python -m hmtl_jax.main --config=configs/synthetic_gender_hmtl.py --workdir=workdirs/synthetic_gender_hmtl
           20 % of the training data, for the same number of steps: add
           --config.data.train_fraction=0.2 --config.num_epochs=50
Hardware:  any CPU.
Expected:  test accuracy 76.0 ± 0.5 % and ROC-AUC 84.6 ± 0.7 % (100 %); 67.9 ± 0.3 % and 74.2 ± 0.8 % (20 %);
           seeds 0-2, against SL's 73.1 / 81.4 and 65.1 / 71.0 (docs/results.jsonl, study gender;
           docs/RESULTS.md). About 6.5 min a run on 2 CPU cores.
"""

from hmtl_jax.config.recipes import add_hmtl, synthetic_base


def get_config():
    c = synthetic_base()
    add_hmtl(c)
    c.task = "gender"
    c.lock()
    return c
