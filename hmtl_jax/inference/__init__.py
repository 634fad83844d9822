"""Using a trained model: rebuild it from its workdir, find faces, predict, evaluate, export."""

from hmtl_jax.inference.predictor import Face, Predictor

__all__ = ["Face", "Predictor"]
