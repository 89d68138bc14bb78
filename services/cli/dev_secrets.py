"""Throwaway secrets for `scoreboard dev`, kept in its data directory so tokens survive restarts.

Only the dev helpers read them (`scoreboard dev`, `token`, `play`); every real deployment sets
SCOREBOARD_JWT_SECRET / SCOREBOARD_TICKET_SECRET / SCOREBOARD_SIGNING_KEYS itself.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

FILE_NAME = "dev-secrets.json"
DEFAULT_DATA_DIR = ".scoreboard"


def load_or_create(data_dir: Path) -> dict[str, str]:
    path = data_dir / FILE_NAME
    if path.exists():
        loaded: dict[str, str] = json.loads(path.read_text())
        return loaded
    values = {
        "jwt_secret": secrets.token_urlsafe(32),
        "ticket_secret": secrets.token_urlsafe(32),
        "signing_key": secrets.token_urlsafe(32),
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values))
    path.chmod(0o600)
    return values


def _read(name: str, data_dir: str) -> str | None:
    path = Path(data_dir) / FILE_NAME
    if not path.exists():
        return None
    value = json.loads(path.read_text()).get(name)
    return str(value) if value else None


def jwt_secret(data_dir: str = DEFAULT_DATA_DIR) -> str | None:
    return os.environ.get("SCOREBOARD_JWT_SECRET") or _read("jwt_secret", data_dir)


def signing_key(data_dir: str = DEFAULT_DATA_DIR) -> tuple[str, str] | None:
    """(key id, secret) for the dev signer: SCOREBOARD_SIGNING_KEYS first, then the dev file."""
    configured = os.environ.get("SCOREBOARD_SIGNING_KEYS")
    if configured:
        keys = json.loads(configured)
        key_id = "default" if "default" in keys else next(iter(keys))
        return key_id, str(keys[key_id])
    secret = _read("signing_key", data_dir)
    return ("default", secret) if secret else None
