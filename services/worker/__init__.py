"""The arq worker: copies committed scores to Redis, publishes events, reconciles."""
