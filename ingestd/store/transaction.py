"""An open write transaction of the metadata store, as ``control`` hands it on.

Work that must commit with other work (a request's idempotent answer with the run it created)
is given the transaction instead of opening its own. ``control`` only passes it along: the
session inside is for the repositories of ``store``.
"""

from __future__ import annotations

from sqlalchemy.orm import Session


class Transaction:
    """One ``Store.write()`` transaction, still open: what is done in it commits with it."""

    __slots__ = ("_session",)

    def __init__(self, session: Session) -> None:
        self._session = session

    @property
    def session(self) -> Session:
        """For repositories of ``store`` only (``control`` never touches a session)."""
        return self._session
