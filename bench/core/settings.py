"""The run's settings, the servers and sections it knows, and the targets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

KINDS = ("floor", "recipe", "project")
LABELS = {"floor": "floor", "recipe": "authlib-recipe", "project": "project"}
SECTIONS = (
    "matrix",
    "resource",
    "scaling",
    "memory",
    "scaleout",
    "profile",
    "metrics",
    "instructions",
)
#: Sections that run only when named with --only (slow, need extra tools).
OPT_IN_SECTIONS = ("instructions",)

# Targets from the issue (ratios within one run).
TARGET_VS_FLOOR = 0.75
TARGET_VS_RECIPE = 1.3
TARGET_SCALING = 1.2
TARGET_MEMORY = 1.1
#: Largest share of refresh throughput metrics may cost.
TARGET_METRICS_COST = 0.03
TARGET_RESOURCE_VS_FLOOR = 0.8
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
