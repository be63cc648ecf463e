"""Exceptions a plug-in raises or the host raises about a plug-in."""

from __future__ import annotations


class ConfigError(ValueError):
    """Raised by ``vms_configure`` when the plug-in's settings are wrong.

    ``key`` names the offending setting inside the plug-in's own ``[plugins.<name>]``
    table (for example ``"webhook_secret"``); the host reports it to the operator as
    ``plugins.<name>.<key>`` and refuses to start the plug-in.
    """

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


class NotGranted(PermissionError):
    """A context call needs a capability the operator has not granted the plug-in.

    ``capability`` names it (``"evidence_locks"``, ``"frames:3"``); the server writes
    the refusal to its audit log. Ask the operator to add it to
    ``[plugins.<name>] grant``.
    """

    def __init__(self, plugin: str, capability: str, what: str) -> None:
        super().__init__(
            f"plug-in {plugin!r} may not {what}: capability {capability!r} is not granted "
            f"(add it to [plugins.{plugin}] grant)"
        )
        self.plugin = plugin
        self.capability = capability


class PluginUnavailable(RuntimeError):
    """A context call could not reach the server (it is stopping, or the plug-in's
    runner is being restarted). Nothing was done; try again later or drop it."""


class IncompatiblePluginError(RuntimeError):
    """The plug-in was written for a hook contract (API version) this host cannot honour."""


class HttpError(Exception):
    """Raise from a route handler to answer the caller with a client error (4xx).

    The host sends ``{"error": {"code": code, "message": message}}`` with ``status``. It is
    the plug-in's answer, not its failure: unlike any other exception it does not count
    toward marking the plug-in unhealthy, so a client sending bad input cannot switch
    your plug-in off.

    :param status: 400 to 499.
    :param message: what was wrong, for the caller: name the field, camera or key.
    :param code: a short machine-readable code (default from the status, ``bad_request``...).
    :raises ValueError: for a status outside 400-499 (a server error is not the caller's).
    """

    default_status = 400

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        status = self.default_status if status is None else status
        if not 400 <= status <= 499:
            raise ValueError(f"HttpError status must be 400-499, got {status}")
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "client_error")
        self.message = message


class BadRequest(HttpError, ValueError):
    """The request's body, query or path is wrong: 400. Also a ``ValueError``, so code that
    already catches ``ValueError`` around ``HttpRequest.json()`` keeps working."""


class Unauthorized(HttpError):
    """The route needs a logged-in user and there is none (a public route): 401."""

    default_status = 401


class Forbidden(HttpError):
    """The caller is logged in but may not do this (role too low): 403."""

    default_status = 403


class NotFound(HttpError):
    """No such thing, or one the caller may not see (a camera they were not granted
    answers like a camera that does not exist): 404."""

    default_status = 404


_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
}
