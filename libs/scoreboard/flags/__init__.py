"""Runtime flags read through OpenFeature (ARCHITECTURE.md: Operators; docs/decisions/0008)."""
