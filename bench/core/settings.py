"""The run's settings, the servers and sections it knows, and the targets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

KINDS = ("floor", "spec", "recipe", "project")
LABELS = {
    "floor": "floor",
    "spec": "spec-floor",
    "recipe": "authlib-recipe",
    "project": "project",
}
SECTIONS = (
    "matrix",
    "resource",
    "formats",
    "scaling",
    "memory",
    "scaleout",
    "profile",
    "metrics",
    "instructions",
)
#: Sections that run only when named with --only (slow, need extra tools).
OPT_IN_SECTIONS = ("instructions",)

# Targets from the issues (ratios within one run).
#: Against the bare floor: an alarm (it does less than the SPEC requires).
TARGET_VS_FLOOR = 0.75
#: Against the spec floor (issue 23; stretch 0.95).
TARGET_VS_SPEC = 0.85
TARGET_VS_RECIPE = 1.5
#: The project's p99 latency over the spec floor's, at most.
TARGET_P99_VS_SPEC = 1.5
TARGET_SCALING = 1.2
TARGET_MEMORY = 1.1
#: Largest share of refresh throughput metrics may cost.
TARGET_METRICS_COST = 0.03
TARGET_RESOURCE_VS_FLOOR = 0.8
# The formats section (issue 23, point 3), each against its baseline.
#: A refresh returning a JWT access token, over the same returning an opaque one.
TARGET_JWT_VS_OPAQUE = 0.9
#: A refresh of an ``openid`` grant (a new ID token), over the same without.
TARGET_OPENID_VS_PLAIN = 0.85
#: A resource call verified by signature (JWKS), over ``@require_oauth``'s lookup.
TARGET_SIGNATURE_VS_DATABASE = 1.5
#: A run whose load generator takes more of the machine's CPU is flagged:
#: the generator competes with the servers for the cores.
GENERATOR_CPU_FLAG_PCT = 15.0


@dataclass
class Settings:
    runs: int
    duration: float
    warmup: float
    connections: int
    databases: list[str]
    sections: list[str]
    scale_sizes: list[int]
    scale_kinds: list[str]
    scale_duration: float
    memory_counts: tuple[int, int]
    race_trials: int
    race_size: int
    profile_requests: int
    pg_port: int
    pg_pre_ping: bool
    quick: bool
    keep: bool
    json_path: Path | None
    #: wrk's path, or None: the Python load generator (``loadgen.py``).
    wrk: str | None = None
    #: Calls of the two callgrind runs of the instructions section.
    instruction_counts: tuple[int, int] = (50, 250)
