"""Training with the Hugging Face Trainer: the KD trainer, checkpoints, fitting classifiers."""
