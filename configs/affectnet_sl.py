"""The paper's supervised baseline (SL): EfficientNet-B0 from scratch on AffectNet-8 at 224 px.

Command:   python -m hmtl_jax.main --config=configs/affectnet_sl.py --workdir=workdirs/affectnet_sl \
               --config.data.data_dir=/path/to/prepared/affectnet
Hardware:  one GPU or more (bf16). Data: AffectNet official release, prepared to ArrayRecord (not in this version yet:
           the run stops at start with a message saying what data it needs).
Expected:  the paper reports 60.34 % AffectNet-8 validation accuracy (= balanced accuracy, 500 images per class).
           Not yet reproduced here.
Settings (hmtl_jax/recipes.py, affectnet_base): the paper's code: AdaBelief lr 1e-3, batch 32, 80 epochs, /10 at
epochs 15 and 40, class weights majority/count, dropout 0.3, weak augmentation, pixels in [0, 1], no weight decay.
"""

from hmtl_jax.recipes import affectnet_base


def get_config():
    c = affectnet_base()
    c.lock()
    return c
