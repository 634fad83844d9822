"""SL + masked in-painting on the embedded synthetic faces.

The perceptual loss is off here: it needs ImageNet VGG-16 weights, which are a user download (see
configs/affectnet_inpaint.py), and at 48 px VGG-16 would cost far more than the tiny backbone. Turn it on with
--config.inpaint.perceptual_network=vgg16 --config.inpaint.perceptual_weights=/path/to/vgg16-397923af.pth.

Command:   python -m hmtl_jax.main --config=configs/synthetic_inpaint.py --workdir=workdirs/synthetic_inpaint
           20 % of the training data, for the same number of steps: add
           --config.data.train_fraction=0.2 --config.num_epochs=50
Hardware:  any CPU.
Expected:  docs/RESULTS.md, rendered from docs/results.jsonl (100 % and 20 % of the training data).
"""

from hmtl_jax.config.recipes import add_inpaint, synthetic_base, synthetic_design


def get_config():
    c = synthetic_base()
    add_inpaint(c, perceptual=False)
    synthetic_design(c)
    c.lock()
    return c
