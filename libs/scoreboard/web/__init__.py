"""HTTP pieces every service shares: the error body, JSON responses, request context."""
