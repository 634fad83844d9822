"""Every config key the trainer reads, with its default. Files in configs/ start from here and change what differs.

The returned ConfigDict is locked by the config files, so a misspelt key (in a file or in a `--config.x=y` override)
is an error instead of a silently ignored setting.
"""

import ml_collections


def base_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0  # one seed for initialisation, data order, augmentation and dropout

    c.data = ml_collections.ConfigDict()
    c.data.name = "synthetic_faces"  # synthetic_faces | affectnet
    c.data.data_dir = ""  # where prepared data sets live (not used by synthetic_faces)
    c.data.image_size = 224
    c.data.train_size = 8000  # synthetic_faces only: number of train records
    c.data.validation_size = 2000  # synthetic_faces only: balanced, multiple of 8 recommended
    c.data.long_tailed = False  # synthetic_faces only: AffectNet's long-tailed train class distribution
    c.data.seed = 0  # synthetic_faces only: which faces are drawn

    c.input = ml_collections.ConfigDict()
    c.input.augment = "weak"  # none | weak | strong (DESIGN.md §2)
    c.input.flip = True
    c.input.eval_crop_fraction = 1.0  # centred crop of the validation images (1.0 = whole image)
    c.input.worker_count = 0  # Grain worker processes; 0 reads in threads of the training process
    c.input.read_threads = 2  # threads that decode and augment batches (per worker process)
    c.input.prefetch_batches = 4  # batches read ahead of the train step

    c.model = ml_collections.ConfigDict()
    c.model.name = "efficientnet_b0"  # see hmtl_jax.models.MODEL_NAMES
    c.model.dropout_rate = 0.3  # before the emotion head, as the paper's code

    c.loss = ml_collections.ConfigDict()
    c.loss.class_weights = False  # the paper's majority/count weights, computed from the train labels
    c.loss.label_smoothing = 0.0

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
    c.eval_every_epochs = 1
    c.checkpoint_every_steps = 1000  # also at every evaluation and at the end
    c.keep_checkpoints = 3
    c.stop_at_step = 0  # end this run after this step (a checkpoint is written); 0 = train to the end
    c.compilation_cache_dir = "~/.cache/hmtl_jax/xla"  # JAX persistent compilation cache; "" disables it
    return c
