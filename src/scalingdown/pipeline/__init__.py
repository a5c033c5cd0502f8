"""The pipeline layer (standard library only): what an experiment is, before any job runs.

It is all the Snakefile imports, and it runs again in every cluster job, so it must stay light: a test checks
that importing it loads no torch, pandas, transformers or yaml. Its sub-packages, each with one job:

- `names`: the vocabulary a config uses (task types and their model families, loaders, divergences, export
  variants, model references, tiny shapes);
- `config`: a config before any job: defaults merged, the schema and the checks it cannot express, and what a
  member's settings mean (`settings`);
- `specs`: one typed spec per stage, their JSON codec, the builders shared with the keys, the table of stages;
- `plan`: the experiment's tasks, teachers and students, their cache keys, and each job's spec (`StageSpecs`);
- `outputs`: what stages write with: atomic writes and provenance records.

`paths` (every path the workflow writes), `errors` (what a user can fix) and `canonical` (canonical JSON and
hashes) sit at its base.
"""
