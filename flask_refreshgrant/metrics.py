"""Prometheus metrics (SPEC §7.2), served at ``OAUTH2_METRICS_PATH``.

What happened is counted where it is announced: each counter but one is a
receiver of a signal of :mod:`.signals`, connected for one app. Token
requests are counted and timed around the token endpoint (the blueprint's
request hooks call :meth:`Metrics.token_request_started` and
:meth:`Metrics.token_request_finished`), since most refusals send no signal.

Each app gets its own ``CollectorRegistry``; nothing is registered on
``prometheus_client``'s global registry. With ``PROMETHEUS_MULTIPROC_DIR``
set (gunicorn with several workers), the counts live in that directory's
files, one per process, and a scrape adds up every process's
(``MultiProcessCollector``); then the metric objects are shared by every
app of the process, as the files are.

``prometheus_client`` is imported only here, and only when an app turns
metrics on: without the ``metrics`` extra the package works, metrics off.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from flask import Flask, Request, Response

from . import signals
from .errors import ConfigurationError

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Histogram

#: The ``grant_type`` label of a token request without a grant type this app
#: serves (missing, unknown, or a body that could not be read): the label
#: never carries raw input, so its values stay few.
UNKNOWN = "unknown"

#: The ``outcome`` label of a request that succeeded.
OK = "ok"

#: Upper bounds, in seconds, of the duration histogram's buckets: a refresh
#: takes a few milliseconds, a slow one (database trouble) seconds.
DURATION_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

#: What an RFC 6749 error code looks like; anything else is counted as
#: UNKNOWN rather than become a label value.
_ERROR_CODE = re.compile(r"[a-z_]{1,64}")

#: Where prometheus_client's multiprocess mode keeps its files.
MULTIPROC_DIR_VARIABLES = ("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir")


class Instruments:
    """The metric objects (SPEC §7.2 names)."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        from prometheus_client import Counter, Histogram

        self.token_requests = Counter(
            "oauth2_token_requests_total",
            "Token endpoint requests, by grant type and outcome "
            "('ok' or the RFC 6749 error code).",
            ["grant_type", "outcome"],
            registry=registry,
        )
        self.token_request_duration = Histogram(
            "oauth2_token_request_duration_seconds",
            "Time to answer a token endpoint request, by grant type.",
            ["grant_type"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.rotated = Counter(
            "oauth2_refresh_tokens_rotated_total",
            "Refresh tokens rotated (a successor issued).",
            registry=registry,
        )
        self.reuse_detected = Counter(
            "oauth2_refresh_token_reuse_detected_total",
            "Rotated-out refresh tokens presented again (the family revoked).",
            registry=registry,
        )
        self.grace_replays = Counter(
            "oauth2_grace_replays_total",
            "Retried rotations answered with the first response (grace period).",
            registry=registry,
        )
        self.tokens_revoked = Counter(
            "oauth2_tokens_revoked_total",
            "Revocations (a token family, an access token, or a batch), by reason.",
            ["reason"],
            registry=registry,
        )
        self.password_lockouts = Counter(
            "oauth2_password_lockouts_total",
            "Usernames locked after too many failed password checks.",
            registry=registry,
        )


#: In multiprocess mode, the one set of metric objects of this process.
_process_instruments: Instruments | None = None


def multiprocess_directory() -> str | None:
    """``PROMETHEUS_MULTIPROC_DIR`` (or its old lower-case name), if set."""
    for name in MULTIPROC_DIR_VARIABLES:
        value = os.environ.get(name)
        if value:
            return value
    return None


class Metrics:
    """One app's metrics: what it counts with, and the registry a scrape reads."""

    def __init__(
        self,
        app: Flask,
        *,
        grant_types: Collection[str],
        path: str,
    ) -> None:
        try:
            from prometheus_client import CollectorRegistry
        except ImportError:
            raise ConfigurationError(
                f"OAUTH2_METRICS_PATH is {path!r} but prometheus_client is not "
                "installed: pip install 'flask-refreshgrant[metrics]', or set "
                "OAUTH2_METRICS_PATH to None."
            ) from None
        self.grant_types = frozenset(grant_types)
        #: What a scrape of this app reads.
        self.registry = CollectorRegistry()
        directory = multiprocess_directory()
        if directory is None:
            self.instruments = Instruments(self.registry)
        else:
            self.instruments = _multiprocess_instruments(self.registry, directory)
        # The labelled children in use, so that a request finds them in a
        # dict (the label values are few: grant types x outcomes).
        self._requests: dict[tuple[str, str], Counter] = {}
        self._durations: dict[str, Histogram] = {}
        self._connect(app)

    def _connect(self, app: Flask) -> None:
        """Count the signals ``app`` sends (bound methods, held weakly: they
        go when this object goes with the app's state)."""
        for signal, receiver in (
            (signals.refresh_token_rotated, self._rotated),
            (signals.refresh_token_reuse_detected, self._reuse_detected),
            (signals.grace_replay_served, self._grace_replay),
            (signals.token_revoked, self._revoked),
            (signals.password_lockout, self._password_lockout),
        ):
            signal.connect(receiver, sender=app)

    # -- signal receivers ------------------------------------------------------

    def _rotated(self, sender: Flask, **kwargs: Any) -> None:
        self.instruments.rotated.inc()

    def _reuse_detected(self, sender: Flask, **kwargs: Any) -> None:
        # Reuse detection revokes the family: a revocation with its own reason.
        self.instruments.reuse_detected.inc()
        self.instruments.tokens_revoked.labels("reuse_detected").inc()

    def _grace_replay(self, sender: Flask, **kwargs: Any) -> None:
        self.instruments.grace_replays.inc()

    def _revoked(self, sender: Flask, *, reason: str, **kwargs: Any) -> None:
        self.instruments.tokens_revoked.labels(reason).inc()

    def _password_lockout(self, sender: Flask, **kwargs: Any) -> None:
        self.instruments.password_lockouts.inc()

    # -- the token endpoint ----------------------------------------------------

    @staticmethod
    def token_request_started() -> float:
        """A time to hand back to :meth:`token_request_finished`."""
        return time.perf_counter()

    def token_request_finished(
        self, request: Request, response: Response, started: float
    ) -> None:
        """Count and time one answered token request."""
        seconds = time.perf_counter() - started
        grant_type = self._grant_type(request)
        outcome = OK if response.status_code == 200 else _error_code(response)
        requests = self._requests.get((grant_type, outcome))
        if requests is None:
            requests = self.instruments.token_requests.labels(grant_type, outcome)
            self._requests[grant_type, outcome] = requests
        duration = self._durations.get(grant_type)
        if duration is None:
            duration = self.instruments.token_request_duration.labels(grant_type)
            self._durations[grant_type] = duration
        requests.inc()
        duration.observe(seconds)

    def _grant_type(self, request: Request) -> str:
        """The request's grant type if this app serves it, else UNKNOWN."""
        if request.method != "POST" or "form" not in request.__dict__:
            # Not a POST, or a body that was never parsed (refused before).
            return UNKNOWN
        value = request.form.get("grant_type")
        return value if value in self.grant_types else UNKNOWN

    # -- a scrape --------------------------------------------------------------

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The body and content type of a scrape: Prometheus text format, or
        OpenMetrics when the scraper asks for it (prometheus_client's own
        negotiation)."""
        from prometheus_client.exposition import choose_encoder

        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type


def _multiprocess_instruments(
    registry: CollectorRegistry, directory: str
) -> Instruments:
    """Read every process's files on a scrape; count with the process's one
    set of metric objects (two objects of one name in one process would
    overwrite each other's counts in the files)."""
    from prometheus_client import multiprocess, values

    if not os.path.isdir(directory):
        raise ConfigurationError(
            f"PROMETHEUS_MULTIPROC_DIR is {directory!r}, which is not a "
            "directory: create it (empty) before the server starts."
        )
    # prometheus_client picks its value store when first imported: set after
    # that, the variable would leave every count in one process's memory.
    if not getattr(values.ValueClass, "_multiprocess", True):
        raise ConfigurationError(
            "PROMETHEUS_MULTIPROC_DIR was set after prometheus_client was "
            "imported: set it in the environment the server starts with."
        )
    multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    global _process_instruments
    if _process_instruments is None:
        _process_instruments = Instruments(None)
    return _process_instruments


def _error_code(response: Response) -> str:
    """The ``error`` of an RFC 6749 §5.2 error body, or UNKNOWN."""
    body = response.get_json(silent=True)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str) and _ERROR_CODE.fullmatch(error):
        return error
    return UNKNOWN
