"""Small configs shared by the trainer tests: tiny images and a tiny model, so a run takes seconds on CPU."""

from hmtl_jax.config.defaults import base_config


def tiny_config(cache_dir: str = "", **overrides):
    config = base_config()
    config.data.image_size = 32
    config.data.train_size = 64
    config.data.validation_size = 24
    config.model.name = "resnet_tiny"
    config.model.dropout_rate = 0.1
    config.optimizer.name = "adamw"
    config.optimizer.learning_rate = 1e-3
    config.batch_size = 16
    config.num_epochs = 2
    config.log_every_steps = 2
    config.checkpoint_every_steps = 2
    config.compilation_cache_dir = cache_dir
    for key, value in overrides.items():
        node = config
        *parents, leaf = key.split(".")
        for parent in parents:
            node = node[parent]
        node[leaf] = value
    config.lock()
    return config
