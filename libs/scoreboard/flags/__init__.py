"""Runtime flags read through OpenFeature (DESIGN section 11; docs/decisions/0008)."""
