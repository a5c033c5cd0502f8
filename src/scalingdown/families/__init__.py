"""The model families: one package per kind of model a task is learned with (`classification`: sentence
classifiers; `text2text`: encoder-decoders that write answers), each behind the interface of `interface`, found by
the stages through `registry`."""
