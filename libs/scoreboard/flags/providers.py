"""Which OpenFeature provider a process reads its flags from (SCOREBOARD_FLAGS_PROVIDER).

`builtin` (the default): ours, fed from PostgreSQL (API, worker) or its Redis mirror (gateway).
`flagd`: the flagd provider (pip install 'scoreboard[flagd]'), configured by its own FLAGD_*
variables. Any other provider: `package.module:factory`, a callable taking no argument that
returns an OpenFeature provider.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from openfeature.provider import FeatureProvider

BUILTIN = "builtin"
FLAGD = "flagd"
_FLAGD_FACTORY = "openfeature.contrib.provider.flagd:FlagdProvider"

ProviderFactory = Callable[[], FeatureProvider]


def factory_of(spec: str) -> ProviderFactory:
    """The factory a non-builtin spec names; ValueError (for the settings) when it cannot be used."""
    target = _FLAGD_FACTORY if spec == FLAGD else spec
    module_name, colon, attribute = target.partition(":")
    if not colon or not module_name or not attribute:
        raise ValueError(f"must be {BUILTIN!r}, {FLAGD!r} or 'package.module:factory', not {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        hint = " (pip install 'scoreboard[flagd]')" if spec == FLAGD else ""
        raise ValueError(f"cannot import {module_name}{hint}") from error
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise ValueError(f"{target} is not a callable provider factory")
    return factory  # type: ignore[no-any-return]
