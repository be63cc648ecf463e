"""Start the slow tests first, one per worker, so that none of them becomes the run's tail.

pytest-xdist's ``worksteal`` scheduler (scripts/test.sh) hands each worker one contiguous
chunk of the collection, then moves tests from the tails of busy workers' queues to idle
ones. A two-minute test near the end of its chunk starts late and finishes last, minutes
after the other workers went idle (seen: the suite's end waited 85 s for one worker). So
the tests marked ``slow`` go to the heads of the chunks, longest first, dealt out to the
workers in turn; everything else keeps its collection order (and its fixtures' locality).

``@pytest.mark.slow(seconds=N)`` says how long a test typically takes (default 30 s); only
the order uses it.
"""

from __future__ import annotations

import os

import pytest

DEFAULT_SLOW_SECONDS = 30.0


def expected_seconds(item: pytest.Item) -> float | None:
    mark = item.get_closest_marker("slow")
    if mark is None:
        return None
    return float(mark.kwargs.get("seconds", DEFAULT_SLOW_SECONDS))


def chunk_sizes(count: int, workers: int) -> list[int]:
    """How worksteal splits ``count`` tests over ``workers`` idle workers at the start."""
    sizes = []
    left = count
    for done in range(workers):
        size = left // (workers - done)
        sizes.append(size)
        left -= size
    return sizes


def slow_first(items: list[pytest.Item], workers: int) -> list[pytest.Item]:
    slow = sorted(
        (item for item in items if expected_seconds(item) is not None),
        key=lambda item: -(expected_seconds(item) or 0.0),
    )
    rest = iter([item for item in items if expected_seconds(item) is None])
    chunks: list[list[pytest.Item]] = [[] for _ in range(workers)]
    for index, item in enumerate(slow):
        chunks[index % workers].append(item)
    ordered: list[pytest.Item] = []
    for chunk, size in zip(chunks, chunk_sizes(len(items), workers), strict=True):
        while len(chunk) < size:
            following = next(rest, None)
            if following is None:
                break
            chunk.append(following)
        ordered.extend(chunk)
    ordered.extend(rest)
    return ordered


@pytest.hookimpl(trylast=True)  # after the markers are final (tests/conftest.py adds some)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every worker collects and must order identically: the order depends only on the
    # collection and the worker count.
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    items[:] = slow_first(items, workers)
