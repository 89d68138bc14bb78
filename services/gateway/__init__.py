"""The SSE gateway: one Redis stream reader per process, fan-out in memory, no database."""
