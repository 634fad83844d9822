"""Self-supervised pretext tasks built on device inside the train step: jigsaw puzzles and masks for in-painting."""
