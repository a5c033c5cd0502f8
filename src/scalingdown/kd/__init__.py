"""Knowledge distillation, for every model family: the losses and divergences, mixing several teachers, and the
teacher-cache store (one Parquet file with a fingerprint and content hashes)."""
