"""The progress table of spreadsheet imports (``crm import``, the /import screen).

One row per import run: the file's fingerprint (sha256 of its bytes), the object,
how many data rows are done and what became of them. A batch of rows and the
progress row's update commit together, so a crashed import resumes after the
last committed batch and no row is imported twice.
"""

from __future__ import annotations

import sqlalchemy as sa

from crm_platform.runtime.storage.naming import constraint_name, id_column, timestamp

IMPORTS = "crm_imports"


def import_tables(metadata: sa.MetaData) -> None:
    """Define ``crm_imports`` in ``metadata``."""
    sa.Table(
        IMPORTS,
        metadata,
        id_column(),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("object", sa.String(64), nullable=False),
        sa.Column("file_name", sa.Text, nullable=False, server_default=""),
        # running, interrupted or done
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("key_field", sa.String(64)),
        sa.Column("rows_total", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rows_done", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated", sa.Integer, nullable=False, server_default="0"),
        sa.Column("unchanged", sa.Integer, nullable=False, server_default="0"),
        sa.Column("failed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("started_by", sa.BigInteger, sa.ForeignKey("crm_users.id"), nullable=True),
        sa.Column("started_at", timestamp(), nullable=False),
        sa.Column("finished_at", timestamp(), nullable=True),
        sa.Index(constraint_name("ix", IMPORTS, "fingerprint", "object"), "fingerprint", "object"),
    )
