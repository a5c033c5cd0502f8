"""ScalingDown: distil large transformer teachers into small, fast students, and report what was kept."""

__version__ = "0.1.0"
