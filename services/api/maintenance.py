"""`increments: false` (a runtime flag): the write routes answer 503 reason `maintenance`.

Checked first, before any limit or token: a paused write costs nothing and spends no budget.
"""

from __future__ import annotations

from scoreboard.domain.errors import Reason, Unavailable
from services.api.context import ApiContext

# Maintenance lasts minutes; idempotent retries every few seconds would only add load.
MAINTENANCE_RETRY_AFTER_S = 10


def refuse_while_increments_off(context: ApiContext) -> None:
    if not context.flags.current.increments:
        raise Unavailable(
            "increments are switched off for maintenance; retry later",
            reason=Reason.MAINTENANCE,
            retry_after_s=MAINTENANCE_RETRY_AFTER_S,
        )
