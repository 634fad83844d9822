"""Gender, supervised only (SL), on the embedded synthetic faces: configs/synthetic_sl.py with config.task=gender
(female / male, drawn 50/50 independently of the expression).

Command:   python -m hmtl_jax.main --config=configs/synthetic_gender_sl.py --workdir=workdirs/synthetic_gender_sl
           20 % of the training data, for the same number of steps: add
           --config.data.train_fraction=0.2 --config.num_epochs=50
Hardware:  any CPU.
Expected:  test accuracy 73.1 ± 0.4 % and ROC-AUC 81.4 ± 0.1 % (100 %); 65.1 ± 0.8 % and 71.0 ± 0.7 % (20 %);
           seeds 0-2, about 3 min a run on 2 CPU cores (docs/results.jsonl, study gender; docs/RESULTS.md).
"""

from hmtl_jax.config.recipes import synthetic_base


def get_config():
    c = synthetic_base()
    c.task = "gender"
    c.lock()
    return c
