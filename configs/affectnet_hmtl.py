"""HMTL with all three losses: emotion + jigsaw + in-painting with a perceptual loss, EfficientNet-B0 on AffectNet-8.

Command:   python -m hmtl_jax.main --config=configs/affectnet_hmtl.py --workdir=workdirs/affectnet_hmtl \
               --config.data.data_dir=~/tensorflow_datasets \
               --config.inpaint.perceptual_weights=/path/to/vgg16-397923af.pth
Hardware:  one GPU or more (bf16). Data and weights: as configs/affectnet_inpaint.py.
Expected:  the paper does not report this combination. Not yet run here.
Settings:  affectnet_puzzle.py's jigsaw (225 px) and affectnet_inpaint.py's in-painting, composed: every face is
           puzzled, then masked, in one forward pass (docs/HMTL.md says why; --config.pretext.combine=split gives each
           task half the batch instead).
"""

from hmtl_jax.config.recipes import add_inpaint, add_puzzle, affectnet_base


def get_config():
    c = affectnet_base()
    c.data.image_size = 225
    add_puzzle(c)
    add_inpaint(c, perceptual=True)
    c.inpaint.perceptual_weights = "~/.cache/hmtl_jax/vgg16-397923af.pth"
    c.lock()
    return c
