"""Evaluating models: batched prediction, task metrics, speed and size measurements."""
