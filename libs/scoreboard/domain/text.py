"""Text from outside (JWT claims, headers, query strings) made safe to store and to show.

PostgreSQL refuses U+0000 in text and asyncpg cannot encode a lone surrogate, so either one in
a single request used to fail every increment committed with it. Control characters and bidi
overrides also have no place in a name shown on a public board (they hide or reorder what
others see). Names are cleaned (the issuer's token is not the player's fault); request fields
that must match something exactly (nonce, keyId) are refused instead, by the schemas.
"""

from __future__ import annotations

import re
import unicodedata

# Explicit bidi embeddings, overrides and isolates: they reorder the text around them.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_WHITESPACE_RUN = re.compile(r"\s+")


def _unsafe(char: str) -> bool:
    if char in _BIDI_CONTROLS:
        return True
    return unicodedata.category(char) in ("Cc", "Cs")  # controls, lone surrogates


def has_unsafe_characters(value: str) -> bool:
    """True when the text holds a control character, a lone surrogate or a bidi control."""
    return not value.isprintable() and any(_unsafe(char) for char in value)


def clean_text(value: str, max_length: int) -> str:
    """The text without unsafe characters, whitespace runs as one space, trimmed and cut."""
    if has_unsafe_characters(value):
        # Line breaks and tabs separate words: keep them as spaces; drop the rest.
        value = "".join(char for char in value if char.isspace() or not _unsafe(char))
    return _WHITESPACE_RUN.sub(" ", value).strip()[:max_length]
