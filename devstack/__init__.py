"""Development tooling: real PostgreSQL and Redis from PyPI wheels, and a supervisor for the
`scoreboard` processes, serving `scoreboard dev`, the tests, the fault suite and the load harness.

Not part of the production image: deploy/Dockerfile copies `libs` and `services` only, and the
import contracts (pyproject.toml) keep everything but `scoreboard dev` from importing it.
"""
