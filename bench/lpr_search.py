"""Licence-plate search benchmark: fuzzy and partial search over N generated reads.

Generates N reads (default 1,000,000; 1 plate in 5 seen again, 40 cameras, 30 days) in
the LPR plug-in's own SQLite store, then times the searches an investigator runs through
``GET /api/plugins/lpr/reads``. Goal: under 100 ms each at 1,000,000 reads.

    .venv/bin/python bench/lpr_search.py --reads 1000000
"""

from __future__ import annotations

import argparse
import random
import statistics
import string
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vms_plugin_lpr.store import ReadStore, to_us

START = datetime(2026, 4, 1, tzinfo=UTC)
DAYS = 30


def random_plate(rng: random.Random) -> str:
    letters = "".join(rng.choices(string.ascii_uppercase, k=3))
    digits = "".join(rng.choices(string.digits, k=rng.choice((3, 4))))
    return letters + digits


def generate(n: int, rng: random.Random) -> Iterator[tuple[str, str, int, float, str]]:
    plates = [random_plate(rng) for _ in range(max(1, n // 5))]
    plates[0] = "ABC1234"  # one plate we know is there
    span_us = DAYS * 86_400 * 1_000_000
    base = to_us(START)
    for _ in range(n):
        yield (
            rng.choice(plates),
            f"cam{rng.randrange(40)}",
            base + rng.randrange(span_us),
            round(rng.uniform(0.8, 1.0), 3),
            "camera",
        )


def timed(label: str, runs: int, search: Callable[[], list[object]]) -> float:
    search()  # warm the page cache: we measure the index, not the disk
    times, found = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        found = len(search())
        times.append((time.perf_counter() - started) * 1000)
    median = statistics.median(times)
    worst = max(times)
    print(f"  {label:<44} median {median:7.2f} ms   max {worst:7.2f} ms   ({found} results)")
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=9)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="lpr-bench-") as tmp:
        store = ReadStore(Path(tmp) / "lpr.sqlite3")
        started = time.perf_counter()
        store.add_many(generate(args.reads, rng))
        load_s = time.perf_counter() - started
        size_mb = sum(p.stat().st_size for p in Path(tmp).iterdir()) / 1e6
        print(f"{args.reads:,} reads loaded in {load_s:.1f} s ({size_mb:.0f} MB on disk)")
        week = START + timedelta(days=7)
        cases: list[tuple[str, Callable[[], list[object]]]] = [
            ("exact ABC1234", lambda: list(store.search("ABC1234"))),
            ("fuzzy A8C1234 (8 for B)", lambda: list(store.search("A8C1234"))),
            ("fuzzy A8CI234 (8 for B, I for 1)", lambda: list(store.search("A8CI234"))),
            ("partial, 2 characters: C1", lambda: list(store.search("C1"))),
            ("partial C123", lambda: list(store.search("C123"))),
            ("partial C12 + one week", lambda: list(store.search("C12", START, week))),
            ("partial 1234 + camera cam7", lambda: list(store.search("1234", camera="cam7"))),
            (
                "no plate, one camera, one day",
                lambda: list(store.search(None, START, START + timedelta(days=1), "cam7")),
            ),
        ]
        print(f"search latency over {args.runs} runs (limit 100 results, newest first):")
        worst = max(timed(label, args.runs, search) for label, search in cases)
        verdict = "meets" if worst < 100 else "MISSES"
        print(f"slowest search {worst:.1f} ms: {verdict} the 100 ms goal")
        store.close()


if __name__ == "__main__":
    main()
