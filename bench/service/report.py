"""Print a run as tables, and turn it into JSON."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from results import CASE_ORDER, RATIO_CASES, RunResult, Verdict, cold_summary, verdicts

PEERS = ("node", "fastapi")


def _num(value: float, digits: int = 0) -> str:
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"


def _ratio(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}x"


def results_table(run: RunResult) -> str:
    head = f"{'case':<36} {'server':<14} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}"
    head += f" {'cpu%':>5} {'req/cpu-s':>9} {'spread':>6}"
    lines = [head]
    for case in CASE_ORDER:
        first = True
        for result in run.servers.values():
            found = result.cases.get(case)
            if found is None:
                continue
            best = found.best
            label = found.label if first else ""
            first = False
            lines.append(
                f"{label:<36} {result.label:<14} {_num(best.rps):>9} {best.p50_ms:>7.2f} {best.p99_ms:>7.2f}"
                f" {best.errors:>6} {best.cpu_share:>5.0%} {_num(best.per_cpu_second):>9}"
                f" {found.spread:>6.1%}"
            )
    return "\n".join(lines)


def ratios_table(run: RunResult) -> str:
    present = [peer for peer in PEERS if peer in run.servers]
    if "jwtseal" not in run.servers or not present:
        return "(ratios need jwtseal and at least one peer)"
    labels = {peer: f"vs {run.servers[peer].label}" for peer in present}
    lines = [
        f"{'jwtseal req/s ÷ peer req/s (per CPU-second)':<44}" + "".join(f" {labels[p]:>22}" for p in present)
    ]
    for case in RATIO_CASES:
        label = run.servers["jwtseal"].cases[case].label if case in run.servers["jwtseal"].cases else case
        cells = [
            f"{_ratio(run.ratio(case, p))} ({_ratio(run.ratio(case, p, per_cpu=True))})" for p in present
        ]
        lines.append(f"{label:<44}" + "".join(f" {cell:>22}" for cell in cells))
    return "\n".join(lines)


def _verdict_value(verdict: Verdict) -> str:
    """The value, rounded towards failing, so a MISSED never prints as the threshold itself."""
    if math.isnan(verdict.value):
        return "-"
    digits = {"x": 2, "MB": 1, "ms": 1}.get(verdict.unit, 2)
    scale = 10**digits
    rounding = math.floor if verdict.higher_is_better else math.ceil
    value = rounding(verdict.value * scale) / scale
    if verdict.unit == "x":
        return f"{value:.2f}x"
    if verdict.unit.startswith("of"):
        return f"{value:.0%} {verdict.unit}"
    return f"{value:,.{digits}f} {verdict.unit}"


def targets_table(run: RunResult) -> str:
    by_rate = verdicts(run)
    by_cpu = verdicts(run, per_cpu=True)
    lines = [f"{'target':<52} {'req/s':<20} {'per CPU-second':<20}"]
    for wall, cpu in zip(by_rate, by_cpu, strict=True):
        left = f"{wall.status:<7}{_verdict_value(wall)}"
        right = f"{cpu.status:<7}{_verdict_value(cpu)}"
        lines.append(f"{wall.target:<52} {left:<20} {right:<20}")
    return "\n".join(lines)


def extras(run: RunResult) -> str:
    lines = []
    if run.sign_floor:
        rates = ", ".join(f"{floor.rps:,.0f}/s" for floor in run.sign_floor)
        lines.append(
            f"cryptography RSA-2048 sign, one core: best {run.floor_rate():,.0f}/s"
            f" ({run.floor_rate(per_cpu=True):,.0f} per CPU-second); runs: {rates}"
        )
    for result in run.servers.values():
        if result.rss_mb:
            rss = ", ".join(f"{phase} {mb:.1f} MB" for phase, mb in result.rss_mb.items())
            lines.append(f"RSS per worker after load, {result.label}: {rss}")
    if run.cold is not None:
        cold = cold_summary(run.cold)
        lines.append(
            f"cold start (median of {len(run.cold.import_ms)}):"
            f" python -c pass {cold['bare_python_ms']:.0f} ms;"
            f' python -c "import jwtseal" {cold["import_ms"]:.0f} ms;'
            f" jwtseal serve start -> first 200 from POST /decode {cold['first_decode_ms']:.0f} ms"
            f" (min {min(run.cold.first_decode_ms):.0f} ms)"
        )
    return "\n".join(lines)


def to_json(run: RunResult, settings: dict[str, Any], environment: dict[str, Any]) -> dict[str, Any]:
    servers: dict[str, Any] = {}
    for name, result in run.servers.items():
        cases = {}
        for key, case in result.cases.items():
            rounds = [{**asdict(s), "rps": s.rps, "per_cpu_second": s.per_cpu_second} for s in case.rounds]
            best = case.best
            cases[key] = {
                "label": case.label,
                "connections": case.connections,
                "rps": best.rps,
                "per_cpu_second": best.per_cpu_second,
                "p50_ms": best.p50_ms,
                "p99_ms": best.p99_ms,
                "errors": best.errors,
                "spread": case.spread,
                "rounds": rounds,
            }
        servers[name] = {"label": result.label, "rss_mb": result.rss_mb, "cases": cases}
    floors = [{**asdict(f), "rps": f.rps, "per_cpu_second": f.per_cpu_second} for f in run.sign_floor]
    cold = None
    if run.cold is not None:
        cold = {**asdict(run.cold), "median": cold_summary(run.cold)}
    ratios = {
        peer: {
            case: {"rps": run.ratio(case, peer), "per_cpu": run.ratio(case, peer, True)}
            for case in RATIO_CASES
        }
        for peer in PEERS
        if peer in run.servers and "jwtseal" in run.servers
    }
    return {
        "settings": settings,
        "environment": environment,
        "servers": servers,
        "ratios": ratios,
        "sign_floor": floors,
        "cold_start": cold,
        "targets": {
            "rps": [{**asdict(v), "status": v.status} for v in verdicts(run)],
            "per_cpu": [{**asdict(v), "status": v.status} for v in verdicts(run, per_cpu=True)],
        },
    }
