"""Sequence-to-sequence (T5 family) tasks: text-to-text formats, the top-k teacher cache, training, evaluation."""
