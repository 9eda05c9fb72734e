"""The error of a query the user has to fix: raised by the parser, the options and the engine, shown as a 400."""

from __future__ import annotations


class QueryError(ValueError):
    """A query the user has to fix; the message says how."""
