"""Models from references: loading (the Hugging Face Auto classes, tiny built-in architectures), selecting layers,
and the files a model directory must hold before it is loaded (`model_dirs`)."""
