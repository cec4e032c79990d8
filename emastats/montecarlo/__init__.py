"""The Monte Carlo engine: batched replicas in torch, streaming moments, statistical verdicts."""
