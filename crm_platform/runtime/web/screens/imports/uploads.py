"""Uploaded spreadsheets kept server-side between the steps of ``/import``, and the errors files.

Each upload lives in its own folder under the store's root, named by an
unguessable id (``secrets.token_urlsafe``) and tied to the session that uploaded
it: another session (even of the same user) gets ``None``, which the screens
answer with a 404. The folder holds the file's bytes and ``upload.json``
(who, which session, the object, the file name, when). It is removed after the
run; anything older than :data:`MAX_AGE` is swept away on the next upload.

The rejected rows of a run go to ``errors/<import id>.csv``; only the user who
ran the import may download it (the screens check ``ImportRun.started_by``).

Example::

    store = UploadStore(Path("/tmp/crm-imports"))
    upload = store.save(b"name\\nAcme\\n", "leads.csv", object="lead", user_id=3, session_id="s1", now=now)
    store.load(upload.id, user_id=3, session_id="s1").data      # b"name\\nAcme\\n"
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

#: Uploads (and errors files) older than this are removed.
MAX_AGE = dt.timedelta(days=1)
_ID = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
_DATA = "data"
_META = "upload.json"


def default_root() -> Path:
    """``$TMPDIR/crm-imports``: where uploads are kept unless the app names another folder."""
    return Path(tempfile.gettempdir()) / "crm-imports"


@dataclass(frozen=True)
class Upload:
    """One uploaded file waiting to be mapped and imported."""

    id: str
    object: str
    file_name: str
    user_id: int
    session_id: str
    uploaded_at: dt.datetime
    data: bytes


class UploadStore:
    """The folder of uploads and errors files."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _folder(self, upload_id: str) -> Path | None:
        return self.root / upload_id if _ID.match(upload_id) else None

    def save(
        self, data: bytes, file_name: str, *, object: str, user_id: int, session_id: str, now: dt.datetime
    ) -> Upload:
        """Keep ``data`` under a new id (and sweep away uploads older than a day)."""
        self.sweep()
        upload_id = secrets.token_urlsafe(24)
        folder = self.root / upload_id
        folder.mkdir(parents=True, mode=0o700)
        (folder / _DATA).write_bytes(data)
        meta = {
            "object": object,
            "file_name": file_name,
            "user_id": user_id,
            "session_id": session_id,
            "uploaded_at": now.isoformat(),
        }
        (folder / _META).write_text(json.dumps(meta), encoding="utf-8")
        return Upload(upload_id, object, file_name, user_id, session_id, now, data)

    def load(self, upload_id: str, *, user_id: int, session_id: str) -> Upload | None:
        """The upload ``upload_id`` of this user's session; ``None`` for anyone else or when gone."""
        folder = self._folder(upload_id)
        if folder is None or not (folder / _META).is_file():
            return None
        try:
            meta = json.loads((folder / _META).read_text(encoding="utf-8"))
            data = (folder / _DATA).read_bytes()
        except (OSError, ValueError):
            return None
        if meta.get("user_id") != user_id or not secrets.compare_digest(
            str(meta.get("session_id", "")), session_id
        ):
            return None
        return Upload(
            upload_id,
            str(meta["object"]),
            str(meta["file_name"]),
            user_id,
            session_id,
            dt.datetime.fromisoformat(meta["uploaded_at"]),
            data,
        )

    def discard(self, upload_id: str) -> None:
        """Remove an upload (after its run)."""
        folder = self._folder(upload_id)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def errors_file(self, import_id: int) -> Path:
        """Where the rejected rows of import ``import_id`` are written."""
        return self.root / "errors" / f"{int(import_id)}.csv"

    def sweep(self) -> None:
        """Remove uploads and errors files older than :data:`MAX_AGE` (by the files' own times)."""
        if not self.root.is_dir():
            return
        oldest = time.time() - MAX_AGE.total_seconds()
        errors = self.root / "errors"
        for path in [*self.root.iterdir(), *(errors.iterdir() if errors.is_dir() else [])]:
            if path == errors:
                continue
            try:
                if path.stat().st_mtime < oldest:
                    if path.is_dir():
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        path.unlink(missing_ok=True)
            except OSError:
                continue
