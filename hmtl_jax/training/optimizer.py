"""Optimisers and learning-rate schedules named in the config.

The paper's code uses AdaBelief (lr 1e-3) with either a step decay (/10 at epochs 15 and 40) or a linear warm-up
followed by cosine decay; AdamW and SGD+momentum are offered for comparison with other FER repositories.
"""

from __future__ import annotations

import ml_collections
import optax

from hmtl_jax.errors import ConfigError

OPTIMIZERS = ("adamw", "sgd", "adabelief")
SCHEDULES = ("cosine", "step", "constant")


def create_learning_rate_schedule(config: ml_collections.ConfigDict, steps_per_epoch: int, total_steps: int):
    """Warm-up (linear from 0) then the named decay, all in steps."""
    base_lr = config.optimizer.learning_rate
    warmup_steps = int(config.schedule.warmup_epochs * steps_per_epoch)
    name = config.schedule.name
    if name == "cosine":
        decay = optax.cosine_decay_schedule(base_lr, max(total_steps - warmup_steps, 1))
    elif name == "step":
        boundaries = {
            int(epoch * steps_per_epoch) - warmup_steps: config.schedule.decay_factor
            for epoch in config.schedule.decay_epochs
        }
        decay = optax.piecewise_constant_schedule(base_lr, {k: v for k, v in boundaries.items() if k > 0})
    elif name == "constant":
        decay = optax.constant_schedule(base_lr)
    else:
        raise ConfigError(f"config.schedule.name must be one of {SCHEDULES}, got {name!r}")
    if warmup_steps == 0:
        return decay
    warmup = optax.linear_schedule(0.0, base_lr, warmup_steps)
    return optax.join_schedules([warmup, decay], [warmup_steps])


def create_optimizer(config: ml_collections.ConfigDict, steps_per_epoch: int, total_steps: int):
    """The optax transformation for `config.optimizer`, with its schedule and optional gradient clipping."""
    opt = config.optimizer
    lr = create_learning_rate_schedule(config, steps_per_epoch, total_steps)
    if opt.name == "adamw":
        tx = optax.adamw(lr, b1=opt.b1, b2=opt.b2, weight_decay=opt.weight_decay)
    elif opt.name == "sgd":
        tx = optax.chain(
            optax.add_decayed_weights(opt.weight_decay) if opt.weight_decay else optax.identity(),
            optax.sgd(lr, momentum=opt.momentum, nesterov=opt.nesterov),
        )
    elif opt.name == "adabelief":
        # Decoupled weight decay, as AdamW does it (the paper uses none: weight_decay = 0).
        tx = optax.chain(
            optax.scale_by_belief(b1=opt.b1, b2=opt.b2),
            optax.add_decayed_weights(opt.weight_decay) if opt.weight_decay else optax.identity(),
            optax.scale_by_learning_rate(lr),
        )
    else:
        raise ConfigError(f"config.optimizer.name must be one of {OPTIMIZERS}, got {opt.name!r}")
    if opt.grad_clip_norm:
        tx = optax.chain(optax.clip_by_global_norm(opt.grad_clip_norm), tx)
    return tx, lr
