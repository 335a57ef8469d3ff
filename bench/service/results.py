"""What one run measured, the ratios between servers, and the issue's targets."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from load import Sample
from startup import ColdStart, SignFloor, median

JWKS = "jwks"
ENCODE_RS = "encode-RS256"
ENCODE_ES = "encode-ES256"
DECODE_OWN = "decode-own"
DECODE_REMOTE = "decode-remote"
DECODE_32 = "decode-own-32"
CASE_ORDER = (JWKS, ENCODE_RS, ENCODE_ES, DECODE_OWN, DECODE_REMOTE, DECODE_32)
RATIO_CASES = (JWKS, ENCODE_RS, ENCODE_ES, DECODE_OWN, DECODE_REMOTE)


@dataclass
class CaseResult:
    """Every round of one case on one server; the best round (by req/s) is the reported one."""

    label: str
    connections: int
    rounds: list[Sample] = field(default_factory=list)

    @property
    def best(self) -> Sample:
        return max(self.rounds, key=lambda sample: sample.rps)

    @property
    def spread(self) -> float:
        """(max - min) / best of req/s over the rounds: above ~10% the case was noisy."""
        rates = [sample.rps for sample in self.rounds]
        return (max(rates) - min(rates)) / max(rates) if max(rates) else 0.0


@dataclass
class ServerResult:
    label: str
    cases: dict[str, CaseResult] = field(default_factory=dict)
    rss_mb: dict[str, float] = field(default_factory=dict)  # by phase (algorithm), per worker

    def rate(self, case: str, per_cpu: bool = False) -> float:
        result = self.cases.get(case)
        if result is None:
            return math.nan
        return result.best.per_cpu_second if per_cpu else result.best.rps


@dataclass
class RunResult:
    servers: dict[str, ServerResult] = field(default_factory=dict)
    sign_floor: list[SignFloor] = field(default_factory=list)
    cold: ColdStart | None = None

    def rate(self, server: str, case: str, per_cpu: bool = False) -> float:
        result = self.servers.get(server)
        return result.rate(case, per_cpu) if result else math.nan

    def ratio(self, case: str, peer: str, per_cpu: bool = False) -> float:
        return self.rate("jwtseal", case, per_cpu) / self.rate(peer, case, per_cpu)

    def floor_rate(self, per_cpu: bool = False) -> float:
        if not self.sign_floor:
            return math.nan
        return max(floor.per_cpu_second if per_cpu else floor.rps for floor in self.sign_floor)


@dataclass(frozen=True)
class Verdict:
    target: str
    value: float
    threshold: float
    unit: str
    higher_is_better: bool = True

    @property
    def status(self) -> str:
        if math.isnan(self.value):
            return "n/a"
        met = self.value >= self.threshold if self.higher_is_better else self.value < self.threshold
        return "MET" if met else "MISSED"


def verdicts(run: RunResult, per_cpu: bool = False) -> list[Verdict]:
    """The issue's targets, judged on req/s (or on req per CPU-second)."""
    jwtseal = run.servers.get("jwtseal")
    decode_32 = jwtseal.cases.get(DECODE_32) if jwtseal else None
    rss = max(jwtseal.rss_mb.values()) if jwtseal and jwtseal.rss_mb else math.nan
    own = run.rate("jwtseal", DECODE_OWN, per_cpu)
    return [
        Verdict("/decode own keys >= 3x node original", run.ratio(DECODE_OWN, "node", per_cpu), 3.0, "x"),
        Verdict("/decode own keys >= 5x fastapi peer", run.ratio(DECODE_OWN, "fastapi", per_cpu), 5.0, "x"),
        Verdict(
            "/decode cached remote JWKS within 10% of own keys",
            run.rate("jwtseal", DECODE_REMOTE, per_cpu) / own,
            0.9,
            "of own",
        ),
        Verdict(
            "/encode RS256 >= 90% of raw RSA-2048 signing",
            run.rate("jwtseal", ENCODE_RS, per_cpu) / run.floor_rate(per_cpu),
            0.9,
            "of raw",
        ),
        Verdict("GET JWKS >= node original", run.ratio(JWKS, "node", per_cpu), 1.0, "x"),
        Verdict(
            "p99 of /decode at 32 connections < 10 ms",
            decode_32.best.p99_ms if decode_32 else math.nan,
            10.0,
            "ms",
            higher_is_better=False,
        ),
        Verdict("RSS per worker < 60 MB", rss, 60.0, "MB", higher_is_better=False),
    ]


def cold_summary(cold: ColdStart) -> dict[str, float]:
    return {
        "bare_python_ms": median(cold.bare_python_ms),
        "import_ms": median(cold.import_ms),
        "first_decode_ms": median(cold.first_decode_ms),
    }
