"""The vocabulary of a config, one table each: task types and the model family of each, loaders, divergences,
export variants, model references and tiny shapes. Standard library only; each table is the one place a name is
declared, so that the config checks, the specs and the stages agree on it."""
