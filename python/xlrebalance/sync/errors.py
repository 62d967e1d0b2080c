"""What can go wrong in a sync, each with a message for the user (all are
:class:`~xlrebalance.errors.XlRebalanceError`, so every entry point reports them plainly)."""

from __future__ import annotations

from xlrebalance.errors import XlRebalanceError


class SyncError(XlRebalanceError):
    """A sync could not complete; the message says why and that nothing local changed."""


class RemoteUnavailable(SyncError):
    """The storage did not answer (network error, timeout, server error)."""


class RemoteCorrupt(SyncError):
    """The remote holds data this program will not read (damaged, foreign, newer format)."""


class PassphraseError(SyncError):
    """Missing or wrong passphrase for an encrypted remote."""


class WriteConflict(Exception):
    """Internal: the remote moved since it was read (a conditional write was refused)."""
