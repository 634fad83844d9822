"""The paper's supervised baseline (SL): EfficientNet-B0 from scratch on AffectNet-8 at 224 px.

Command:   python -m hmtl_jax.main --config=configs/affectnet_sl.py --workdir=workdirs/affectnet_sl \
               --config.data.data_dir=/path/to/prepared/affectnet
Hardware:  one GPU or more (bf16). Data: AffectNet official release, prepared to ArrayRecord (not in this version yet:
           the run stops at start with a message saying what data it needs).
Expected:  the paper reports 60.34 % AffectNet-8 validation accuracy (= balanced accuracy, 500 images per class).
           Not yet reproduced here.
Settings from the paper's code: AdaBelief lr 1e-3, batch 32, 80 epochs, /10 at epochs 15 and 40, class weights
majority/count, dropout 0.3, weak augmentation, pixels in [0, 1], no weight decay, no label smoothing.
"""

from hmtl_jax.config_defaults import base_config


def get_config():
    c = base_config()
    c.data.name = "affectnet"
    c.data.data_dir = "~/tensorflow_datasets"
    c.data.image_size = 224
    c.input.augment = "weak"
    c.input.flip = False
    c.input.worker_count = 8
    c.model.name = "efficientnet_b0"
    c.model.dropout_rate = 0.3
    c.loss.class_weights = True
    c.optimizer.name = "adabelief"
    c.optimizer.learning_rate = 1e-3
    c.schedule.name = "step"
    c.schedule.decay_epochs = (15, 40)
    c.schedule.decay_factor = 0.1
    c.batch_size = 32
    c.num_epochs = 80
    c.half_precision = True
    c.checkpoint_every_steps = 2000
    c.lock()
    return c
