"""What a run writes down: metrics accumulated on device (`metrics.py`), `metrics.jsonl`, TensorBoard events and the
console progress line (`metric_writer.py`), and the pictures: the confusion matrix (`confusion_image.py`) and the
pretext views (`pretext_grid.py`).

Imports: clu's metrics, tensorboardX, PIL; nothing of hmtl_jax.
"""
