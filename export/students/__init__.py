"""Student models: small causal networks written so that they export as a step function with explicit state."""
