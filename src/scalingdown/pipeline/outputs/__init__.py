"""What stages write their outputs with: atomic writes that replace only a stage's own outputs (`atomic`), and the
provenance record of shared artefacts (`provenance`). Standard library only."""
