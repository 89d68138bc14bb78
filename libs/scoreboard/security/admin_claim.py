"""Who is an admin: a bearer token whose admin claim holds `scoreboard:admin` (ARCHITECTURE.md: Operators).

Issuers spell roles differently: a JSON list (`"roles": ["scoreboard:admin"]`), or one
space-separated string as OAuth scopes are (`"scope": "openid scoreboard:admin"`). Some nest
them (Keycloak's `realm_access.roles`): a claim name with dots is looked up as written first
(namespaced claims such as `https://example.com/roles` contain dots too), then as a path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ADMIN_ROLE = "scoreboard:admin"
DEFAULT_ADMIN_CLAIM = "roles"


def _claim(claims: Mapping[str, Any], name: str) -> Any:
    if name in claims:
        return claims[name]
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def holds_admin_role(claims: Mapping[str, Any], claim: str = DEFAULT_ADMIN_CLAIM) -> bool:
    value = _claim(claims, claim)
    if isinstance(value, str):
        return ADMIN_ROLE in value.split()
    if isinstance(value, list | tuple):
        return any(item == ADMIN_ROLE for item in value)
    return False  # absent, or a type no issuer uses for roles: never an admin by accident
