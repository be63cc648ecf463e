"""Matching a request to a plug-in's routes: one matcher for the server and the test host.

:func:`find_route` picks the route (or says the path exists under another method, for a
405), and :func:`refusal` answers what the host checks before any handler runs (login,
role). ``PluginTestHost.request`` and the server's plug-in HTTP layer both use them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from vms_sdk.types import HttpResponse, Principal, Route


@dataclass(frozen=True)
class RouteMatch:
    """What :func:`find_route` found.

    :ivar route: the route answering the method and path, or ``None``.
    :ivar params: its path parameters.
    :ivar path_known: some route has this path (under another method: answer 405).
    :ivar index: the route's position in the list given (``-1`` when none).
    """

    route: Route | None
    params: dict[str, str] = field(default_factory=dict)
    path_known: bool = False
    index: int = -1


def find_route(routes: Sequence[Route], method: str, path: str) -> RouteMatch:
    """The first route of ``routes`` answering ``method`` ``path`` (path below the prefix)."""
    path_known = False
    for index, route in enumerate(routes):
        if route.match_path(path) is None:
            continue
        path_known = True
        params = route.match(method, path)
        if params is not None:
            return RouteMatch(route, params, True, index)
    return RouteMatch(None, {}, path_known)


def not_routed(match: RouteMatch, method: str, path: str) -> HttpResponse:
    """The 404 or 405 answer when no route answers."""
    if match.path_known:
        return HttpResponse.error(405, "method_not_allowed", f"{method} not allowed here")
    return HttpResponse.error(404, "not_found", f"no route {method} {path}")


def refusal(route: Route, caller: Principal | None) -> HttpResponse | None:
    """The 401/403 answer when ``caller`` may not call ``route``, else ``None``."""
    if route.admits(caller):
        return None
    if caller is None:
        return HttpResponse.error(401, "unauthorized", "this needs a logged-in user")
    return HttpResponse.error(
        403, "forbidden", f"this needs the {route.role} role; {caller.username} is {caller.role}"
    )
