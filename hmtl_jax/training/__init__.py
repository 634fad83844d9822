"""The training loop and what it runs. `loop.py`: `train_and_evaluate(config, workdir)`, top to bottom. `jitted.py`:
everything jitted for a config (state layout, train and eval steps). `step.py`: the train and eval steps.
`multitask_loss.py`: the HMTL loss over all tasks (the supervised one from hmtl_jax/supervised/). `state.py`: the
train state. `optimizer.py`, `emotion_loss.py`, `nonfinite.py` (what a NaN does), `evaluation.py` (validation
metrics and their record), `preview.py` (the pretext picture).

Imports: every other package of hmtl_jax except tools/.
"""
