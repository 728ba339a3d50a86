"""The soak's verdict: every answer sorted by outcome, and by whether it came
during a fault (a PostgreSQL restart, a worker's SIGKILL) or outside one."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from soakrun.driver import Event


@dataclass(frozen=True)
class Window:
    """A stretch of time when failures are expected: ``kind`` is
    ``pg_restart`` or ``worker_kill``."""

    kind: str
    start: float
    end: float

    def holds(self, start: float, end: float) -> bool:
        """Whether ``[start, end)`` overlaps the window."""
        return start < self.end and end > self.start


@dataclass(frozen=True)
class Answer:
    """One answer or a group of them (wrk counts per second)."""

    source: str  # python | wrk
    what: str
    status: int  # 0: no answer
    error: str
    retry_after: bool
    start: float
    end: float
    count: int = 1

    @property
    def outcome(self) -> str:
        if self.status == 0:
            return f"no answer ({self.error})"
        return f"{self.status} {self.error}".rstrip()


def answers(events: list[Event], wrk_rows: list[tuple[Any, ...]]) -> list[Answer]:
    found = [
        Answer("python", e.what, e.status, e.error, e.retry_after, e.at, e.at + 0.001)
        for e in events
    ]
    for second, step, status, error, retry, count in wrk_rows:
        what = {"password": "token/password", "refresh": "token/refresh"}.get(
            step, "api/me"
        )
        found.append(
            Answer(
                "wrk",
                what,
                status,
                error,
                retry == "retry-after",
                second,
                second + 1,
                count,
            )
        )
    return found


def summarize(
    found: list[Answer],
    windows: list[Window],
    wrk_socket_errors: dict[str, int],
) -> dict[str, Any]:
    """Counts by outcome; 5xx inside and outside the fault windows; 503s
    with and without ``Retry-After``."""
    by_outcome: Counter[str] = Counter()
    by_what: Counter[str] = Counter()
    outside_5xx: list[dict[str, Any]] = []
    during: Counter[str] = Counter()
    no_answer_outside: list[dict[str, Any]] = []
    total = 0
    for answer in found:
        total += answer.count
        by_outcome[answer.outcome] += answer.count
        by_what[f"{answer.what}: {answer.outcome}"] += answer.count
        inside = [w.kind for w in windows if w.holds(answer.start, answer.end)]
        if answer.status >= 500:
            if not inside:
                outside_5xx.append(
                    {
                        "source": answer.source,
                        "what": answer.what,
                        "outcome": answer.outcome,
                        "at": answer.start,
                        "count": answer.count,
                    }
                )
            elif answer.status == 503:
                key = "503 with Retry-After" if answer.retry_after else "503 without"
                during[key] += answer.count
            else:
                during[f"{answer.status} {answer.error}".rstrip()] += answer.count
        elif answer.status == 0 and not inside:
            no_answer_outside.append(
                {
                    "what": answer.what,
                    "outcome": answer.outcome,
                    "at": answer.start,
                }
            )
    return {
        "requests": total,
        "by_outcome": dict(by_outcome.most_common()),
        "by_request": dict(sorted(by_what.items())),
        "5xx_outside_faults": sum(item["count"] for item in outside_5xx),
        "5xx_outside_faults_detail": outside_5xx,
        "5xx_during_faults": dict(during),
        "no_answer_outside_faults": no_answer_outside,
        # wrk's "status" counter is answers >= 400, already counted above.
        "wrk_socket_errors": {
            k: v for k, v in wrk_socket_errors.items() if k != "status"
        },
    }


def print_summary(result: dict[str, Any]) -> None:
    summary = result["summary"]
    audit = result["audit"]
    print(f"\n== soak on {result['database']}: {result['duration_s']} s ==")
    print(
        f"workers {result['workers']}, wrk connections {result['wrk_connections']}, "
        f"python drivers {result['drivers']}"
    )
    for fault in result["faults"]:
        print(
            f"  fault {fault['kind']:<12} at +{fault['start'] - result['started']:6.1f} s"
            f" for {fault['end'] - fault['start']:5.1f} s"
        )
    print(f"requests: {summary['requests']}")
    for outcome, count in summary["by_outcome"].items():
        print(f"  {count:>8}  {outcome}")
    print(f"5xx outside faults: {summary['5xx_outside_faults']}")
    for item in summary["5xx_outside_faults_detail"][:20]:
        print(f"  {item}")
    print(f"5xx during faults: {summary['5xx_during_faults']}")
    print(f"no answer outside faults: {len(summary['no_answer_outside_faults'])}")
    print(f"wrk socket errors: {summary['wrk_socket_errors']}")
    print(f"anomalies: {len(result['anomalies'])}")
    for anomaly in result["anomalies"][:20]:
        print(f"  {anomaly}")
    print(f"server log tracebacks: {result['tracebacks']}")
    if result["server_exited"] is not None:
        print(f"GUNICORN EXITED DURING THE RUN (status {result['server_exited']})")
    print(
        f"audit: exit {audit['exit_code']}, "
        f"violations {len(audit['report'].get('violations', []))}, "
        f"counts {audit['report'].get('counts')}"
    )
