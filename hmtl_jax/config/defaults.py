"""Every config key the trainer reads, with its default. Files in configs/ start from here and change what differs.

The returned ConfigDict is locked by the config files, so a misspelt key (in a file or in a `--config.x=y` override)
is an error instead of a silently ignored setting.
"""

import ml_collections


def base_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0  # one seed for initialisation, data order, augmentation and dropout
    # The supervised task: emotion | gender | head_pose (hmtl_jax/supervised/tasks.py). synthetic_faces has every
    # task's labels; a prepared data set has its own task's (celeba: gender; the expression data sets: emotion).
    c.task = "emotion"

    c.data = ml_collections.ConfigDict()
    # synthetic_faces, or a data set prepared by `python -m data_pipelines.prepare`: affectnet/8class,
    # affectnet/7class, affectnet_224/8class, rafdb_basic, fer2013, ferplus, face_folder/<name>
    c.data.name = "synthetic_faces"
    c.data.data_dir = ""  # where prepared data sets live (the --data_dir of the preparation)
    c.data.train_split = "train"  # prepared data sets only
    c.data.eval_split = "validation"  # prepared data sets only: rafdb_basic has `test`, fer2013/ferplus `public_test`
    # Prepared data sets only: evaluate on this other prepared data set's eval_split ("" = data.name's), e.g. train on
    # pose_300w_lp and evaluate on pose_aflw2000 (split test), the head pose protocol.
    c.data.eval_name = ""
    c.data.train_fraction = 1.0  # train on a stratified subset of this fraction of each class (the paper: 0.2)
    c.data.subset_seed = 0  # which subset; independent of config.seed, so seeds of a sweep share one subset
    c.data.sampling = "shuffle"  # shuffle (each record once per epoch) | balanced (classes drawn equally often)
    c.data.image_size = 224
    c.data.train_size = 8000  # synthetic_faces only: number of train records
    c.data.validation_size = 2000  # synthetic_faces only: balanced, multiple of 8 recommended
    # synthetic_faces only: > 0 evaluates this many balanced test faces (their own random stream) once, at the end
    # of training, into test/* metrics and test_latest.json. Settings are chosen on validation, reported on test.
    c.data.test_size = 0
    c.data.long_tailed = False  # synthetic_faces only: AffectNet's long-tailed train class distribution
    c.data.seed = 0  # synthetic_faces only: which faces are drawn
    c.data.in_memory = False  # synthetic_faces only: render every face once at start (for many epochs of few faces)

    c.input = ml_collections.ConfigDict()
    c.input.augment = "weak"  # none | weak | strong (docs/PAPER.md, hmtl_jax/data/augment.py)
    c.input.flip = True
    c.input.eval_crop_fraction = 1.0  # centred crop of the validation images (1.0 = whole image)
    c.input.worker_count = 0  # Grain worker processes; 0 reads in threads of the training process
    c.input.read_threads = 2  # threads that decode and augment batches (per worker process)
    c.input.prefetch_batches = 4  # batches read ahead of the train step

    c.model = ml_collections.ConfigDict()
    c.model.name = "efficientnet_b0"  # see hmtl_jax.models.MODEL_NAMES
    c.model.dropout_rate = 0.3  # before the emotion head, as the paper's code
    # A timm or torchvision ImageNet weights file (.safetensors or .pth) for the backbone (efficientnet_b0/b1/b2,
    # resnet18, resnet50); "" = from scratch, as the paper. The model then takes PyTorch's BatchNorm epsilon and
    # ImageNet's input normalisation, as the weights were trained (hmtl_jax/models/imagenet_weights.py).
    c.model.imagenet_weights = ""

    c.loss = ml_collections.ConfigDict()
    # w_fer in  total = w_fer CE_fer + w_jigsaw CE_jigsaw + w_inpaint (L_pixel + lambda L_perc); with another
    # config.task, the weight of that task's loss.
    c.loss.emotion_weight = 1.0
    c.loss.class_weights = False  # the paper's majority/count weights, computed from the train labels
    c.loss.label_smoothing = 0.0

    # Self-supervised auxiliary tasks (HMTL). A task with weight 0 is not built at all: no head, no extra compute.
    c.pretext = ml_collections.ConfigDict()
    # Which image the emotion head classifies during training: "pretext" = the puzzled/masked view, in the same
    # forward pass (the paper's code); "clean" = the clean image, in the same jitted pass over a batch twice as large;
    # "both" = as "clean", the emotion loss the mean of the clean and the pretext view's.
    c.pretext.emotion_view = "pretext"
    # With emotion_view "clean" or "both": "joint" = clean and pretext images in one pass, BatchNorm's statistics
    # mixed from both; "separate" = two passes, each normalised by its own batch statistics, running statistics (what
    # evaluation uses) from the clean images only.
    c.pretext.batch_norm = "joint"
    # With both tasks on: "compose" = every image is puzzled, then masked (one view; the decoder repaints the
    # puzzled image); "split" = even rows of the batch are puzzled, odd rows masked (each task sees half the batch).
    c.pretext.combine = "compose"

    c.jigsaw = ml_collections.ConfigDict()
    c.jigsaw.weight = 0.0
    c.jigsaw.grid = 3  # grid x grid tiles; the image size must be divisible by it
    c.jigsaw.target = "permutation"  # permutation (index in a fixed set) | per_tile (the paper's code: N*N heads)
    c.jigsaw.permutations = "hamming"  # hamming (greedy max-Hamming set) | uniform (all (N*N)!; per_tile only)
    c.jigsaw.num_permutations = 100  # size of the Hamming set
    c.jigsaw.permutation_seed = 0  # the set is a function of (grid, num_permutations, seed); saved in the workdir
    c.jigsaw.dropout_rate = 0.2  # on the pooled features before the jigsaw head, as the paper's SSL branch

    c.inpaint = ml_collections.ConfigDict()
    c.inpaint.weight = 0.0
    c.inpaint.mask_shape = "rectangles"  # rectangles | grid | face_bands (see hmtl_jax/pretext/masks.py)
    c.inpaint.mask_ratio = 0.25  # fraction of the image masked
    c.inpaint.mask_count = 1  # rectangles or bands per image
    c.inpaint.grid_cells = 4  # grid only: cells per side
    c.inpaint.face_lines = (0.40, 0.68)  # face_bands only: eye and mouth heights, as fractions of the image height
    c.inpaint.band_jitter = 0.05  # face_bands only: random shift of a band's centre, fraction of the height
    c.inpaint.fill = "noise"  # value | noise: what replaces masked pixels
    c.inpaint.fill_value = 0.5  # fill=value only, in [0, 1]
    c.inpaint.decoder_width = 64  # channels of the decoder's first level; halved at each finer level
    c.inpaint.skip_connections = True  # add the backbone's finer feature maps into the decoder
    c.inpaint.pixel_loss = "l1"  # l1 | l2
    c.inpaint.loss_region = "masked"  # masked (only the repainted pixels) | whole (every pixel)
    c.inpaint.perceptual_network = "none"  # none | vgg16 (frozen, weights from perceptual_weights)
    c.inpaint.perceptual_weights = ""  # torchvision vgg16 state dict (.pth) or .safetensors, e.g. vgg16-397923af.pth
    c.inpaint.perceptual_layers = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
    c.inpaint.perceptual_weight = 1.0  # lambda: L1 distance of VGG features, summed over the layers

    c.optimizer = ml_collections.ConfigDict()
    c.optimizer.name = "adabelief"  # adamw | sgd | adabelief
    c.optimizer.learning_rate = 1e-3  # peak learning rate, for the global batch
    c.optimizer.weight_decay = 0.0
    c.optimizer.b1 = 0.9
    c.optimizer.b2 = 0.999
    c.optimizer.momentum = 0.9  # sgd only
    c.optimizer.nesterov = True  # sgd only
    c.optimizer.grad_clip_norm = 0.0  # 0 = no clipping

    c.schedule = ml_collections.ConfigDict()
    c.schedule.name = "cosine"  # cosine | step | constant
    c.schedule.warmup_epochs = 0.0
    c.schedule.decay_epochs = (15, 40)  # step only: multiply by decay_factor at these epochs
    c.schedule.decay_factor = 0.1

    c.batch_size = 32  # global: split over all devices of all processes
    c.num_epochs = 80
    c.half_precision = False  # bf16 activations, fp32 parameters and optimiser state

    c.sharding = ml_collections.ConfigDict()
    c.sharding.strategy = "data"  # data | fsdp

    c.log_every_steps = 50
    c.progress_bar = False  # a bar over the steps (tqdm; a widget in notebooks) instead of the progress lines
    c.eval_every_epochs = 1
    c.preview_images = 8  # clean / pretext view / reconstruction grid at every evaluation (0 = none)
    c.checkpoint_every_steps = 1000  # also at every evaluation and at the end
    c.keep_checkpoints = 3
    c.stop_at_step = 0  # end this run after this step (a checkpoint is written); 0 = train to the end
    # A step with a non-finite loss or gradient never changes the state. stop: end the run naming the step and its
    # loss terms (the latest checkpoint is the last good state); skip: go on without that update.
    c.nonfinite = "stop"
    c.max_skipped_steps = 100  # nonfinite=skip: stop anyway after this many skipped steps (the run has diverged)
    c.compilation_cache_dir = "~/.cache/hmtl_jax/xla"  # JAX persistent compilation cache; "" disables it
    # A rerun in the same workdir resumes its run. same: a rerun whose settings would make another run (model, tasks,
    # shapes, data, schedule, seed) is refused, naming them; changed: continue the checkpoint under the new settings
    # (hmtl_jax/config/resume.py lists the settings that may always change).
    c.resume_policy = "same"
    # Start from the parameters of another run (a workdir, or one of its checkpoints/<step> folders) instead of a
    # random initialisation: those whose name and shape match load, the rest are initialised; "" = from scratch.
    c.init_from = ""
    return c
