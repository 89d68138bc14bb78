"""Security primitives: bearer tokens, request signatures, action tickets, masking."""
