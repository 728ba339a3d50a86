"""The memory section: a project worker's RSS after few and after many refreshes."""

from __future__ import annotations

import math
import time

from core.harness import Bench
from core.measure import rss_kib
from core.report import log, ratio, table, verdict
from core.settings import TARGET_MEMORY


def memory(bench: Bench) -> None:
    s = bench.settings
    db_kind = "postgresql" if "postgresql" in s.databases else s.databases[0]
    first, last = s.memory_counts
    server = bench.server("project", True, db_kind, f"memory_{db_kind}")
    readings: dict[str, dict[int, int]] = {}
    try:
        server.add_chains(s.connections)
        server.start()
        done = 0
        for label, count in (("first", first), ("last", last)):
            started = time.perf_counter()
            bench.load([server], mode="count", requests=count - done)
            done = count
            time.sleep(0.5)
            readings[label] = {pid: rss_kib(pid) for pid in server.workers()}
            log(
                f"memory: after {count} refreshes ({time.perf_counter() - started:.0f} s): "
                f"RSS {readings[label]} KiB"
            )
    finally:
        server.stop()
    rows = []
    ratios = []
    for pid, before in readings["first"].items():
        after = readings["last"].get(pid, 0)
        r = ratio(after, before)
        ratios.append(r)
        rows.append([pid, before / 1024, after / 1024, r])
    worst = max(ratios) if ratios else math.nan
    bench.results["memory"] = {
        "db": db_kind,
        "counts": [first, last],
        "rss_kib": {k: {str(p): v for p, v in d.items()} for k, d in readings.items()},
        "worst_ratio": worst,
    }
    note = " (--quick: smaller counts than the issue's 1k/100k)" if s.quick else ""
    bench.emit(
        f"\n== Memory: project (rotation on, {db_kind}), worker RSS after "
        f"{last:,} refreshes vs after {first:,}{note} ==\n"
    )
    bench.emit(
        table(
            ["worker pid", f"RSS MiB @{first:,}", f"RSS MiB @{last:,}", "ratio"],
            rows,
        )
    )
    bench.emit(
        f"worst ratio {worst:.3f}: {verdict(worst <= TARGET_MEMORY)} (<= {TARGET_MEMORY})"
    )
