"""SL + in-painting with a perceptual loss (the paper's best variant): EfficientNet-B0 from scratch on AffectNet-8.
The flagship command.

Command:   python -m hmtl_jax.main --config=configs/affectnet_inpaint.py --workdir=workdirs/affectnet_inpaint \
               --config.data.data_dir=~/tensorflow_datasets \
               --config.inpaint.perceptual_weights=/path/to/vgg16-397923af.pth
Hardware:  one GPU or more (bf16). Data: as configs/affectnet_sl.py, plus torchvision's ImageNet VGG-16 weights
           (https://download.pytorch.org/models/vgg16-397923af.pth, 528 MB; a .safetensors copy works too). Without
           them the run stops at start saying so.
Expected:  the paper reports 61.72 % (B0) against 60.34 % for SL, and 55.36 % against 52.46 % with 20 % of the
           training data. Not yet reproduced here.
Settings:  affectnet_sl.py's recipe plus masked in-painting (hmtl_jax/config/recipes.py, add_inpaint; the paper's
           code does not include it, docs/HMTL.md explains our defaults): one noise-filled square of 25 % of the
           image, U-Net-style decoder, L1 on the masked pixels + 1 x L1 of VGG-16 relu1_2/2_2/3_3/4_3 features,
           weight 1.
"""

from hmtl_jax.config.recipes import add_inpaint, affectnet_base


def get_config():
    c = affectnet_base()
    add_inpaint(c, perceptual=True)
    c.inpaint.perceptual_weights = "~/.cache/hmtl_jax/vgg16-397923af.pth"
    c.lock()
    return c
