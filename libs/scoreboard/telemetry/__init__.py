"""Logs, metrics and traces, configured by each process's main() or app factory."""
