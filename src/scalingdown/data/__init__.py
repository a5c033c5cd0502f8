"""Data: loaders and file formats, reading and checking rows, de-duplication, splits, label budgets, transfer text, the
prepared-data store, and the built-in generators."""
