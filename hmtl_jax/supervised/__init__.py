"""The supervised task a run learns beside its pretext tasks: emotion, gender or head pose.

`tasks.py`: which tasks exist, the label each reads and the size of its head. `head_pose.py`: the head pose loss
(binned classification plus regression of the expected angle) and its angles.

Imports: numpy, jax and optax only.
"""
