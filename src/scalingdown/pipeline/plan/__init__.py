"""The experiment plan: its tasks, teachers and students (`experiment`, `members`), the keys of the shared artefacts
(`keys`), the seeds (`seeds`), how training jobs are launched (`launch`) and every job's spec (`stage_specs`).
Standard library only."""
