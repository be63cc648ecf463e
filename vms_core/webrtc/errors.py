"""The one exception the live-view service refuses a request with."""

from __future__ import annotations


class WhepError(Exception):
    """A request the service refuses; ``status`` is the HTTP status to answer.

    ``retry_after`` (seconds) is set when the refusal is temporary and it is known when
    trying again can succeed.
    """

    def __init__(
        self, status: int, message: str, code: str | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.retry_after = retry_after
