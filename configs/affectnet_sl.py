"""The paper's supervised baseline (SL): EfficientNet-B0 from scratch on AffectNet-8 at 224 px.

Command:   python -m hmtl_jax.main --config=configs/affectnet_sl.py --workdir=workdirs/affectnet_sl \
               --config.data.data_dir=~/tensorflow_datasets
Data:      AffectNet's official release, prepared once (docs/DATASETS.md):
               python -m data_pipelines.prepare affectnet --manual_dir /path/to/AffectNet \
                   --data_dir ~/tensorflow_datasets
           Without it the run stops at start with that command. Other data sets: --config.data.name=rafdb_basic
           --config.data.eval_split=test, and so on (the prepare command prints the flags).
Hardware:  one GPU or more (bf16).
Expected:  the paper reports 60.34 % AffectNet-8 validation accuracy (= balanced accuracy, 500 images per class),
           and 52.46 % with --config.data.train_fraction=0.2. Not yet reproduced here.
Settings (hmtl_jax/config/recipes.py, affectnet_base): the paper's code: AdaBelief lr 1e-3, batch 32, 80 epochs,
/10 at epochs 15 and 40, class weights majority/count, dropout 0.3, weak augmentation, pixels in [0, 1], no weight
decay.
"""

from hmtl_jax.config.recipes import affectnet_base


def get_config():
    c = affectnet_base()
    c.lock()
    return c
