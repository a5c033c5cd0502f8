"""The classification family: sentence classifiers over a task's label names, distilled from their teachers'
logits and pooled hidden states (the interface's members: `family`)."""
