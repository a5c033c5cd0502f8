"""One module per dataset family; each has `load(options, seed, task_type) -> {split: DataFrame}`."""
