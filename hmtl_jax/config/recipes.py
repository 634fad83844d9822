"""The shared settings behind configs/{affectnet,synthetic}_{sl,puzzle,inpaint,hmtl}.py.

Each config file is its base recipe plus the pretext tasks it turns on, so the four variants of one data set
differ in nothing else (same data, model, optimiser, schedule and budget): their comparison is the tasks' effect.
"""

import ml_collections

from hmtl_jax.config.defaults import base_config


def affectnet_base() -> ml_collections.ConfigDict:
    """The paper's supervised recipe (docs/PAPER.md): EfficientNet-B0 from scratch on AffectNet-8, AdaBelief lr 1e-3,
    batch 32, 80 epochs with /10 at epochs 15 and 40, class weights majority/count, dropout 0.3, weak augmentation,
    pixels in [0, 1], no weight decay, no label smoothing, mixed precision."""
    c = base_config()
    c.data.name = "affectnet/8class"  # python -m data_pipelines.prepare affectnet --manual_dir ... --data_dir ...
    c.data.data_dir = "~/tensorflow_datasets"
    c.data.eval_split = "validation"  # AffectNet's official validation set: the paper's test set
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
    return c


def celeba_base() -> ml_collections.ConfigDict:
    """Gender recognition on CelebA (`python -m data_pipelines.prepare celeba ...`): the AffectNet recipe's model,
    optimiser and 224 px, for 20 epochs of CelebA's 162,770 train faces (/10 at 8 and 15), flips, no class weights
    (CelebA is 58 % female). Chosen on the validation split; report with --config.data.eval_split=test."""
    c = affectnet_base()
    c.task = "gender"
    c.data.name = "celeba"
    c.input.flip = True
    c.loss.class_weights = False
    c.num_epochs = 20
    c.schedule.decay_epochs = (8, 15)
    return c


def pose_300w_lp_base() -> ml_collections.ConfigDict:
    """Head pose in the usual protocol: train on 300W-LP, test on AFLW2000 (both prepared with
    `python -m data_pipelines.prepare`). ResNet-50 as Hopenet, from scratch, AdaBelief lr 1e-3, batch 32, 25 epochs
    (Hopenet's count; /10 at 10 and 20), flips (they mirror yaw and roll) and no other augmentation (a rotation
    would change the roll), no dropout, bf16."""
    c = affectnet_base()
    c.task = "head_pose"
    c.data.name = "pose_300w_lp"
    c.data.train_split = "train"
    c.data.eval_name = "pose_aflw2000"
    c.data.eval_split = "test"
    c.input.augment = "none"
    c.input.flip = True
    c.loss.class_weights = False
    c.model.name = "resnet50"
    c.model.dropout_rate = 0.0
    c.num_epochs = 25
    c.schedule.decay_epochs = (10, 20)
    return c


def synthetic_base() -> ml_collections.ConfigDict:
    """A CPU-sized version of the comparison on the embedded synthetic faces: 48 px (divisible by the 3 x 3
    jigsaw), 6,000 balanced train faces, 2,000 validation faces, resnet_tiny, 10 epochs. Augmentation and optimiser
    as configs/demo.py (augmentation hurts on these faces, see there). Train on 20 % of the data with
    --config.data.train_fraction=0.2 --config.num_epochs=50 (a stratified fifth, 1,200 faces, for the same number
    of steps: with 10 epochs of 1,200 faces every variant stays near chance)."""
    c = base_config()
    c.data.name = "synthetic_faces"
    c.data.image_size = 48
    c.data.train_size = 6_000
    c.data.validation_size = 2_000
    c.data.in_memory = True  # 8,000 faces of 48 px: 55 MB, rendered once instead of every epoch
    c.input.augment = "none"
    c.model.name = "resnet_tiny"
    c.model.dropout_rate = 0.1
    c.optimizer.name = "adamw"
    c.optimizer.learning_rate = 3e-3
    c.optimizer.weight_decay = 1e-4
    c.schedule.name = "cosine"
    c.batch_size = 64
    c.num_epochs = 10
    c.log_every_steps = 50
    c.eval_every_epochs = 5
    c.checkpoint_every_steps = 500
    return c


def add_puzzle(c: ml_collections.ConfigDict) -> None:
    """Jigsaw on a 3 x 3 grid with the design card's target: the permutation's index in a set of 100 chosen for
    maximal Hamming distance. Weight 1 as the paper's code; the emotion head classifies the puzzled view in the same
    forward pass, as the paper's code. (Its exact setting: jigsaw.target=per_tile, jigsaw.permutations=uniform.)"""
    c.jigsaw.weight = 1.0
    c.jigsaw.grid = 3
    c.jigsaw.target = "permutation"
    c.jigsaw.permutations = "hamming"
    c.jigsaw.num_permutations = 100


def add_inpaint(c: ml_collections.ConfigDict, perceptual: bool) -> None:
    """Masked in-painting (the paper's code does not include it; our default, documented in docs/HMTL.md): one
    random square covering 25 % of the image, filled with noise, repainted by the decoder with skip connections;
    L1 on the masked pixels, plus (with `perceptual`) lambda=1 times the L1 distance of VGG-16 relu1_2, relu2_2,
    relu3_3 and relu4_3 features."""
    c.inpaint.weight = 1.0
    c.inpaint.mask_shape = "rectangles"
    c.inpaint.mask_ratio = 0.25
    c.inpaint.mask_count = 1
    c.inpaint.fill = "noise"
    c.inpaint.pixel_loss = "l1"
    c.inpaint.loss_region = "masked"
    c.inpaint.perceptual_network = "vgg16" if perceptual else "none"
    c.inpaint.perceptual_weight = 1.0


def synthetic_design(c: ml_collections.ConfigDict) -> None:
    """How the auxiliary tasks are trained in the synthetic configs, chosen on the benchmark's validation faces
    (docs/RESULTS.md, design study; docs/HMTL.md explains each choice). Unlike the paper's one pass, the emotion head
    classifies the clean face, in a pass of its own, so that BatchNorm's statistics of clean faces are not mixed with
    those of puzzled or masked ones; the in-painting decoder has no skip connections, so that the backbone's deepest
    features, the ones the emotion head reads, must carry what is repainted. The AffectNet configs keep the paper's
    design, which the paper measured at 224 px."""
    c.pretext.emotion_view = "clean"
    c.pretext.batch_norm = "separate"
    c.inpaint.skip_connections = False


def add_hmtl(c: ml_collections.ConfigDict) -> None:
    """Both auxiliary tasks, composed, in the design chosen on the synthetic faces (`synthetic_design`), without the
    perceptual loss: the HMTL of configs/synthetic_hmtl.py, and of the gender and head pose configs."""
    add_puzzle(c)
    add_inpaint(c, perceptual=False)
    synthetic_design(c)


def ssl_pretrain(c: ml_collections.ConfigDict) -> None:
    """The first stage of the two-stage recipe HMTL is compared with: the pretext tasks alone (the emotion loss has
    weight 0, so the labels are never used), on every train image, for half of the recipe's epochs. The emotion head
    reads the pretext view (one pass; its output is unused) and the in-painting decoder has no skip connections, as
    in the synthetic design."""
    c.loss.emotion_weight = 0.0
    if c.inpaint.weight > 0:  # after add_inpaint
        c.inpaint.skip_connections = False
    c.num_epochs = c.num_epochs // 2


def ssl_finetune(c: ml_collections.ConfigDict, pretrained: str) -> None:
    """The second stage: the supervised recipe for the other half of the epochs, starting from the backbone (and
    every other parameter whose name and shape match) of the pre-training run in the workdir `pretrained`."""
    c.num_epochs = c.num_epochs - c.num_epochs // 2
    c.init_from = pretrained
