"""Models from references: loading (the Hugging Face Auto classes, tiny built-in architectures) and selecting layers."""
