"""Where a jwtseal worker's time goes: summarize py-spy collapsed stacks by category.

    .venv/bin/python bench/service/profile_summary.py DIR_OR_FILES... [--top N]

Reads the ``--format raw`` files that ``run.py --profile DIR`` records (one per
case). Each sample is put in the category of its innermost frame that names
one (walking from the leaf towards the root), so a ``json.dumps`` inside the
access log counts as access log, one inside the response as response JSON.
The HTTP server (jwtseal's protocol and server modules, or uvicorn before them),
the asyncio/uvloop event loop and the socket system calls
are the server's own share (also for samples with no named frame at all). py-spy sees Python
frames only, so time inside a C call (OpenSSL, a ``write``) goes to the
Python frame that made it.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

SERVER = "HTTP server + event loop + socket I/O"
_TOKEN_MODULES = ("verifier", "_jws", "_b64", "claims", "issuer", "keys", "keyring", "remote", "jwks")
# (category, substrings of a frame "function (path:line)"); the first frame from the leaf that matches wins.
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("crypto (cryptography sign/verify)", ("jwtseal/_algorithms.py",)),
    ("metrics", ("observe (", "prometheus_client/", "remote_event (", "jwtseal/http/metrics.py")),
    ("access log", ("access_log (", "http/observers.py", "jwtseal/logs.py", "logging/__init__.py")),
    (
        "token: parse, claims, key lookup, JWS",
        (*(f"jwtseal/{name}.py" for name in _TOKEN_MODULES), "jwtseal/service.py", "jwtseal/apikeys.py"),
    ),
    (
        "request body + JSON in/out",
        ("_json_object (", "_json_response (", "Request.body (", "jwtseal/_json.py"),
    ),
    (SERVER, ("http/protocol.py", "http/server.py", "uvicorn/", "asyncio/", "uvloop/", "httptools/")),
    ("jwtseal HTTP layer (router, handlers)", ("jwtseal/http/",)),
)
_LINE = re.compile(r":\d+\)$")


@dataclass
class Profile:
    name: str
    total: int = 0
    categories: Counter[str] = field(default_factory=Counter)
    leaves: Counter[str] = field(default_factory=Counter)


def category(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, markers in CATEGORIES:
            if any(marker in frame for marker in markers):
                return name
    return SERVER


def read(path: Path) -> Profile:
    profile = Profile(path.stem)
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        profile.total += count
        profile.categories[category(frames)] += count
        profile.leaves[_LINE.sub(")", frames[-1])] += count
    return profile


def render(profile: Profile, top: int) -> str:
    lines = [f"{profile.name}: {profile.total} samples"]
    names = list(dict.fromkeys(name for name, _ in CATEGORIES))
    for name in sorted(names, key=lambda name: -profile.categories[name]):
        share = profile.categories[name] / profile.total if profile.total else 0.0
        lines.append(f"  {share:6.1%}  {name}")
    lines.append(f"  top {top} frames by own time:")
    for frame, count in profile.leaves.most_common(top):
        lines.append(f"  {count / profile.total:6.1%}  {frame}")
    return "\n".join(lines)


def files(paths: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        found.extend(sorted(path.glob("*.txt")) if path.is_dir() else [path])
    return found


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("paths", nargs="+", type=Path, help="profile dirs or py-spy raw files")
    parser.add_argument("--top", type=int, default=8, help="frames listed by own time [default: 8]")
    args = parser.parse_args()
    for path in files(args.paths):
        print(render(read(path), args.top), end="\n\n")


if __name__ == "__main__":
    main()
