"""Fault tests run their own servers (they stop them), so they do not use the session's."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.faults
