"""Progress lines, figure arithmetic (median, ratio, PASS/FAIL) and tables."""

from __future__ import annotations

import math
import re
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

from core.settings import GENERATOR_CPU_FLAG_PCT


def log(message: str) -> None:
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def median(values: Sequence[float]) -> float:
    clean = [v for v in values if not math.isnan(v)]
    return statistics.median(clean) if clean else math.nan


def ratio(a: float, b: float) -> float:
    return a / b if b and not math.isnan(a) and not math.isnan(b) else math.nan


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


_NUMERIC = re.compile(r"-?[\d.,]*%?")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            if math.isnan(value):
                return "-"
            return f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"
        return str(value)

    cells = [[cell(v) for v in row] for row in rows]
    numeric = [
        bool(cells) and all(_NUMERIC.fullmatch(row[i]) for row in cells)
        for i in range(len(headers))
    ]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
        for i, h in enumerate(headers)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append(
            "  ".join(
                c.rjust(w) if numeric[i] else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(lines)


def per_run(
    values: Sequence[float], flag_above: float | None = None, digits: int = 0
) -> str:
    """Per-run figures, rounded, space-separated; ``!`` marks a flagged one."""
    return " ".join(
        f"{v:.{digits}f}" + ("!" if flag_above is not None and v > flag_above else "")
        for v in values
    )


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The medians (and per-run figures) of a server's load runs."""
    return {
        "rps": median([r["rps"] for r in runs]),
        "p50_ms": median([r["p50_ms"] for r in runs]),
        "p99_ms": median([r["p99_ms"] for r in runs]),
        "errors": sum(r["errors"] for r in runs),
        "server_cpu_ms": median([r["server_cpu_ms"] for r in runs]),
        "db_cpu_ms": median([r["db_cpu_ms"] for r in runs]),
        "other_cpu_pct": median([r["other_cpu_pct"] for r in runs]),
        "runs_other_cpu_pct": [round(r["other_cpu_pct"], 1) for r in runs],
        "client_cpu_ms": median([r["client_cpu_ms"] for r in runs]),
        "gen_cpu_pct": median([r["gen_cpu_pct"] for r in runs]),
        "runs_gen_cpu_pct": [round(r["gen_cpu_pct"], 1) for r in runs],
        "generator": runs[0].get("generator", "python") if runs else "",
        "runs_rps": [round(r["rps"], 1) for r in runs],
        "runs_p50_ms": [round(r["p50_ms"], 3) for r in runs],
    }


def per_round(a: dict[str, Any], b: dict[str, Any]) -> list[float]:
    """Throughput ratios a/b of each round (run k of both ran in round k)."""
    return [ratio(x, y) for x, y in zip(a["runs_rps"], b["runs_rps"], strict=True)]


def load_headers(rate: str, per: str) -> list[str]:
    """The headers of :func:`load_cells`: ``rate`` names the throughput
    (``refreshes/s``), ``per`` one request (``r``)."""
    return [
        rate,
        "p50 ms",
        "p99 ms",
        "errors",
        f"app CPU ms/{per}",
        f"db CPU ms/{per}",
        f"gen CPU ms/{per}",
        f"runs ({rate})",
        "gen CPU %",
        "other load %",
    ]


def load_cells(f: dict[str, Any]) -> list[Any]:
    """A :func:`summary`'s figures as table cells (see :func:`load_headers`)."""
    return [
        f["rps"],
        f["p50_ms"],
        f["p99_ms"],
        f["errors"],
        f["server_cpu_ms"],
        f["db_cpu_ms"],
        f["client_cpu_ms"],
        per_run(f["runs_rps"]),
        per_run(f["runs_gen_cpu_pct"], GENERATOR_CPU_FLAG_PCT, 1),
        per_run(f["runs_other_cpu_pct"]),
    ]
