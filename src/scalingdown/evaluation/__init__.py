"""Evaluating models, whatever their family: task metrics, exports and the runtime that runs them, interleaved timing,
sizes on disk, prediction on a user's file."""
