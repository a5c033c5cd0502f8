"""Data loading and generation utilities for ScalingDown."""
