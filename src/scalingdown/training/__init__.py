"""Training with the Hugging Face Trainer, for every model family: the KD trainer (only `compute_loss` changes),
resumable checkpoints, the kept checkpoint."""
