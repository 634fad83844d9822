"""SL + masked in-painting on the embedded synthetic faces.

The perceptual loss is off here: it needs ImageNet VGG-16 weights, which are a user download (see
configs/affectnet_inpaint.py), and at 48 px VGG-16 would cost far more than the tiny backbone. Turn it on with
--config.inpaint.perceptual_network=vgg16 --config.inpaint.perceptual_weights=/path/to/vgg16-397923af.pth.

Command:   python -m hmtl_jax.main --config=configs/synthetic_inpaint.py --workdir=workdirs/synthetic_inpaint
           20 % of the training data, for the same number of steps: add
           --config.data.train_fraction=0.2 --config.num_epochs=50
Design:    synthetic_design (hmtl_jax/config/recipes.py), chosen on the validation faces: the emotion head on the
           clean face, BatchNorm statistics kept apart, the decoder without skip connections. The paper's one
           pass instead: --config.pretext.emotion_view=pretext --config.pretext.batch_norm=joint
           --config.inpaint.skip_connections=True
Hardware:  any CPU.
Expected:  test accuracy 66.0 ± 1.7 % (100 %) and 23.2 ± 0.2 % (20 %), seeds 0-2, against SL's 68.4 and 21.8
           (docs/results.jsonl, study final; docs/RESULTS.md). About 6 min a run on 2 CPU cores.
"""

from hmtl_jax.config.recipes import add_inpaint, synthetic_base, synthetic_design


def get_config():
    c = synthetic_base()
    add_inpaint(c, perceptual=False)
    synthetic_design(c)
    c.lock()
    return c
