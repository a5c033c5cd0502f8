"""The text-to-text family (T5, Flan-T5, BERT2BERT): formats, inference, the top-k teacher cache, training and
scoring of models that write a task's answers (the interface's members: `family`)."""
