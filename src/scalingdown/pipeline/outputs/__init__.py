"""What stages write their outputs with: atomic writes that replace only a stage's own outputs (`atomic`), the
provenance record of shared artefacts (`provenance`), and the content fingerprints of the files a prepared dataset
was read from (`input_fingerprints`). Standard library only."""
