"""The causal family (decoder-only LMs: Llama, Qwen, SmolLM): chat prompting, the top-k teacher cache over response
tokens, the tokenizer gate, training (offline and on-policy) and scoring of models that continue a prompt with its
answer (the interface's members: `family`)."""
