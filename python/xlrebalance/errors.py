"""The project's exception tree, in one place.

Every problem with a user's input is a :class:`PortfolioError` that names *where* (a JSON field
such as ``holdings[2].quantity`` or a cell such as ``Holdings!E7``) and *what was expected*.
Entry points (CLI, ribbon macros, worksheet functions) catch :class:`XlRebalanceError` and show
its message; nothing below them prints a traceback at a user.
"""

from __future__ import annotations


class XlRebalanceError(Exception):
    """Base of every error this project raises on purpose."""


class PortfolioError(XlRebalanceError, ValueError):
    """Invalid input: the message says where and what was expected."""

    def __init__(self, location: str, message: str) -> None:
        self.location = location
        self.message = message
        super().__init__(f"{location}: {message}" if location else message)


class InfeasibleError(XlRebalanceError):
    """The constraints admit no plan (e.g. a withdrawal larger than what may be sold)."""


class QuoteError(XlRebalanceError):
    """A quote source failed as a whole (not one ticker: those get a status instead)."""


class NetworkUnreachable(QuoteError):
    """No network: a connection was refused, a host name did not resolve, or a request timed
    out. The first such failure stops a refresh; prices already on hand are used, and the
    user gets one line saying so."""
