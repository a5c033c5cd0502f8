"""Evaluating and shipping models: prediction, timing, metrics and exports."""
