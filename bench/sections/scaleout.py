"""The scaleout section: two project servers on one PostgreSQL, and the race."""

from __future__ import annotations

from typing import Any

from core.harness import Bench
from core.report import log, ratio, summary, table, verdict


def scaleout(bench: Bench) -> None:
    s = bench.settings
    if "postgresql" not in s.databases:
        bench.emit("\n== Scale-out: skipped (needs PostgreSQL) ==")
        return
    url = bench.database("postgresql", "scaleout")
    a = bench.server("project", True, "postgresql", "scaleout_a", db_url=url)
    b = bench.server("project", True, "postgresql", "scaleout_b", db_url=url)
    b.instance = a.instance  # one SECRET_KEY, one demo client, one set-up lock
    b.chains = a.chains
    single: list[dict[str, Any]] = []
    dual: list[dict[str, Any]] = []
    trials: list[dict[str, Any]] = []
    try:
        a.add_chains(s.connections)
        a.start()
        b.start()
        b.client_id, b.client_secret = a.client_id, a.client_secret
        bench.load([a], mode="count", requests=20)
        bench.load([a, b], mode="count", requests=20)
        for run in range(s.runs):
            for name, targets, into in (
                ("one", [a], single),
                ("two", [a, b], dual),
            ):
                result = bench.load(targets)
                into.append(result)
                log(
                    f"scale-out: {name} server(s) run {run + 1}: {result['rps']:.1f}/s "
                    f"p50 {result['p50_ms']:.2f} ms"
                )
        tokens = a.seed(chains=s.race_trials)["tokens"]
        for n, token in enumerate(tokens):
            outcome = bench.race([a, b], token, s.race_size)
            trials.append(outcome)
            log(f"race trial {n + 1}: {outcome['outcomes']}")
    finally:
        b.stop()
        a.stop()
    one, two = summary(single), summary(dual)
    scale = ratio(two["rps"], one["rps"])
    bench.results["scaleout"] = {
        "one": one,
        "two": two,
        "ratio": scale,
        "race": trials,
    }
    bench.emit(
        f"\n== Scale-out: two example-app servers (separate gunicorn masters, "
        f"2 sync workers each) on one PostgreSQL; {s.connections} connections "
        f"split across both ==\n"
    )
    bench.emit(
        table(
            ["servers", "refreshes/s", "p50 ms", "p99 ms", "errors"],
            [
                ["one", one["rps"], one["p50_ms"], one["p99_ms"], one["errors"]],
                ["two", two["rps"], two["p50_ms"], two["p99_ms"], two["errors"]],
            ],
        )
    )
    bench.emit(f"two/one throughput: {scale:.2f}")
    per = s.race_size // 2
    bench.emit(
        f"\nRace: the same refresh token in {2 * per} simultaneous requests "
        f"({per} to each server), {len(trials)} trials:"
    )
    rows = [
        [
            n + 1,
            t["ok"],
            " + ".join(str(x) for x in t["ok_by_target"]),
            ", ".join(f"{k}: {v}" for k, v in sorted(t["outcomes"].items())),
        ]
        for n, t in enumerate(trials)
    ]
    bench.emit(table(["trial", "200s", "200s by server", "all outcomes"], rows))
    exact = all(t["ok"] == 1 for t in trials)
    bench.emit(f"exactly one 200 in every trial: {verdict(exact)}")
    recipe_race(bench)


def recipe_race(bench: Bench) -> None:
    """For contrast, the same race against the Authlib recipe (one server):
    it saves the new token and revokes the old one in two commits."""
    s = bench.settings
    server = bench.server("recipe", True, "postgresql", "race_recipe")
    trials: list[dict[str, Any]] = []
    try:
        tokens = server.seed(chains=s.race_trials)["tokens"]
        server.start()
        for token in tokens:
            trials.append(bench.race([server], token, s.race_size))
    finally:
        server.stop()
    bench.results.setdefault("scaleout", {})["recipe_race"] = trials
    bench.emit(
        f"\nFor contrast, the authlib-recipe (one server, PostgreSQL), same race "
        f"({s.race_size} requests): 200s per trial: "
        + ", ".join(str(t["ok"]) for t in trials)
    )
