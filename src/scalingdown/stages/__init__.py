"""One module per workflow stage; each exposes a function the CLI (and so each Snakemake rule) calls."""
