"""Knowledge distillation: the divergences and losses a student minimises against its teachers."""
