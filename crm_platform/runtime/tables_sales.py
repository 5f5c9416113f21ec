"""Tables of the sales process: follow-ups, stage history and the like."""

from __future__ import annotations

import sqlalchemy as sa


def sales_tables(metadata: sa.MetaData) -> None:
    """Define the sales-process tables in ``metadata``."""
