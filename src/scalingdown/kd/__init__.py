"""Knowledge distillation: the losses, the teacher-logit store, reading teacher caches, mixing several teachers."""
