"""Single-core sign/verify throughput: jwtseal against raw cryptography and its peers.

Run ``.venv/bin/python bench/tokens.py`` (``--help`` for options); see bench/README.md.

Every case is a zero-argument callable timed in a tight loop on one pinned
core, by the thread's CPU time (time spent descheduled by neighbours does not
count). Cases are interleaved: each round runs every case once, in a fresh
random order, so a burst of noise from a neighbour hurts one sample of many
cases instead of every sample of one case. The reported figure is the best
(or median) round.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import os
import platform
import random
import secrets
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import jwt as pyjwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from joserfc import jwk as jose_jwk
from joserfc import jwt as jose_jwt

# authlib.jose warns at import that it is deprecated (and forces its warnings on): record, drop.
with warnings.catch_warnings(record=True):
    from authlib.jose import JsonWebKey, JsonWebToken  # type: ignore[import-untyped]
import jwtseal
from jwtseal import ClaimsPolicy, FileKeyStore, Issuer, KeyRing, PublicKeySet, RotationPolicy, Verifier

Op = Literal["sign", "verify"]
Thunk = Callable[[], object]

# joserfc warns on every EdDSA call (RFC 9864 deprecates the name); the call still happens, unprinted.
warnings.filterwarnings("ignore", message=".*deprecated via RFC 9864")

DEFAULT_ALGS = ("RS256", "ES256", "EdDSA")
EXTRA_ALGS = ("RS384", "RS512", "PS256", "PS384", "PS512", "ES384", "ES512")
ALL_ALGS = tuple(jwtseal.SUPPORTED_ALGORITHMS)
ISSUER = "https://issuer.example"
TOKEN_TTL = 3_600
CLIENT_CLAIMS: dict[str, Any] = {"sub": "user-1234", "scope": "read:things write:things", "tenant": "acme"}
POOL_SIZE = 16  # distinct tokens cycled by verify cases, so nothing can cache one answer
CALIBRATION_SECONDS = 0.05

IMPLS: dict[str, str] = {
    "floor": "floor (cryptography)",
    "floor-rs": "  (floor + DER->r||s)",  # for reference only: the ECDSA sign floor plus the JWS form
    "bare": "  (bare JWS, no checks)",  # for reference only: the least work around the floor, see bare_*
    "jwtseal": "jwtseal",
    "jwtseal-ring": "jwtseal Verifier(keyring)",
    "pyjwt": "PyJWT",
    "joserfc": "joserfc",
    "authlib": "authlib",
}
SIGN_LABELS = {"jwtseal": "jwtseal Issuer.sign"}
VERIFY_LABELS = {"jwtseal": "jwtseal Verifier(JWKS)"}


@dataclass(frozen=True)
class Target:
    alg: str
    op: Op
    impl: str
    min_ratio: float


TARGETS = (
    Target("RS256", "verify", "jwtseal", 0.75),
    Target("RS256", "verify", "jwtseal-ring", 0.75),
    Target("ES256", "sign", "jwtseal", 0.80),
    Target("EdDSA", "sign", "jwtseal", 0.80),
)


@dataclass(frozen=True)
class Case:
    alg: str
    op: Op
    impl: str
    fn: Thunk = field(repr=False)

    @property
    def key(self) -> str:
        return f"{self.alg}/{self.op}/{self.impl}"

    @property
    def label(self) -> str:
        labels = SIGN_LABELS if self.op == "sign" else VERIFY_LABELS
        return labels.get(self.impl, IMPLS[self.impl])


@dataclass
class Result:
    alg: str
    op: Op
    impl: str
    label: str
    iterations: int
    samples: list[float] = field(default_factory=list)  # ops/s, one per round
    cpu_share: list[float] = field(default_factory=list)  # CPU time / wall time, one per round

    @property
    def best(self) -> float:
        return max(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> float:
        """(max - min) / median across rounds: how noisy this case was."""
        return (max(self.samples) - min(self.samples)) / self.median


# --- fixtures -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fixture:
    """One algorithm's keys, in every library's own form, loaded once (warm)."""

    alg: str
    kid: str
    keyring: KeyRing
    issuer: Issuer
    jwks: dict[str, Any]
    private_jwk: dict[str, Any]
    public_jwk: dict[str, Any]
    private_key: Any  # a cryptography private key object
    public_key: Any


def make_fixture(alg: str, directory: Path) -> Fixture:
    keyring = KeyRing(FileKeyStore(directory / alg), RotationPolicy(algorithm=alg))
    view = keyring.view()  # creates and loads the key set: warm from here on
    signing_key = view.signing_key
    private_jwk = signing_key.to_private_jwk()
    private_key = pyjwt.PyJWK(private_jwk).key  # the same key as a cryptography object
    return Fixture(
        alg=alg,
        kid=signing_key.kid,
        keyring=keyring,
        issuer=Issuer(keyring, ClaimsPolicy(issuer=ISSUER, token_ttl=TOKEN_TTL)),
        jwks=json.loads(view.jwks_json),
        private_jwk=private_jwk,
        public_jwk=dict(signing_key.public.to_jwk()),
        private_key=private_key,
        public_key=private_key.public_key(),
    )


def peer_claims() -> dict[str, Any]:
    """What jwtseal's ClaimsPolicy.issue adds, so peers' sign does the same work."""
    now, jti = int(time.time()), secrets.token_urlsafe(16)
    return {**CLIENT_CLAIMS, "iss": ISSUER, "iat": now, "exp": now + TOKEN_TTL, "jti": jti}


def cycler(items: list[Any]) -> Callable[[], Any]:
    return itertools.cycle(items).__next__


def as_str(token: object) -> str:
    """A signer's token as text (authlib returns bytes)."""
    text = token.decode("ascii") if isinstance(token, bytes) else token
    assert isinstance(text, str), type(token)
    return text


# --- the floor: cryptography alone ---------------------------------------------------------------

_HASHES = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}
_PKCS1V15 = padding.PKCS1v15()
_ECDSA = {
    "ES256": (ec.ECDSA(hashes.SHA256()), 32),
    "ES384": (ec.ECDSA(hashes.SHA384()), 48),
    "ES512": (ec.ECDSA(hashes.SHA512()), 66),
}
_ECDSA_NOTE = "sign: key.sign(input, ECDSA) -> DER, no DER->r||s | verify: r||s -> DER, then key.verify"
FLOOR_NOTES = {
    **{
        f"RS{bits}": f"sign: key.sign(input, PKCS1v15, SHA{bits}) | verify: key.verify(sig, input, same)"
        for bits in _HASHES
    },
    **{
        f"PS{bits}": f"sign: key.sign(input, PSS(MGF1, salt {int(bits) // 8}), SHA{bits}) | verify: same"
        for bits in _HASHES
    },
    **dict.fromkeys(_ECDSA, _ECDSA_NOTE),
    "EdDSA": "sign: key.sign(input) | verify: key.verify(sig, input)",
}


def rsa_padding(alg: str) -> tuple[padding.AsymmetricPadding, hashes.HashAlgorithm]:
    """RS* or PS* as RFC 7518 sections 3.3 and 3.5 define them, built once."""
    digest = _HASHES[alg[2:]]
    if alg.startswith("PS"):
        return padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size), digest
    return _PKCS1V15, digest


def floor_signer(alg: str, key: Any) -> Callable[[bytes], object]:
    if isinstance(key, rsa.RSAPrivateKey):
        pad, digest = rsa_padding(alg)
        return lambda data: key.sign(data, pad, digest)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        ecdsa = _ECDSA[alg][0]
        return lambda data: key.sign(data, ecdsa)
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    return key.sign


def raw_ecdsa_signer(alg: str, key: ec.EllipticCurvePrivateKey) -> Callable[[bytes], bytes]:
    """The sign floor plus the DER -> fixed-length r||s conversion every JWS signer needs."""
    ecdsa, size = _ECDSA[alg]

    def sign_raw(data: bytes) -> bytes:
        r, s = decode_dss_signature(key.sign(data, ecdsa))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")

    return sign_raw


def floor_verifier(alg: str, key: Any) -> Callable[[bytes, bytes], object]:
    if isinstance(key, rsa.RSAPublicKey):
        pad, digest = rsa_padding(alg)
        return lambda sig, data: key.verify(sig, data, pad, digest)
    if isinstance(key, ec.EllipticCurvePublicKey):
        ecdsa, size = _ECDSA[alg]

        def verify_raw(sig: bytes, data: bytes) -> None:
            r = int.from_bytes(sig[:size], "big")
            s = int.from_bytes(sig[size:], "big")
            key.verify(encode_dss_signature(r, s), data, ecdsa)

        return verify_raw
    assert isinstance(key, ed25519.Ed25519PublicKey)
    return key.verify


# --- reference only: the least work any JWS library does around the floor -------------------------

_COMPACT = json.JSONEncoder(separators=(",", ":"))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _raw_rs(der: bytes, size: int) -> bytes:
    """DER -> fixed-length r || s by reading the bytes (the fastest form known here).

    P-521's SEQUENCE length takes the long form (0x81, then the length).
    """
    r_start = 5 if der[1] == 0x81 else 4
    r_end = r_start + der[r_start - 1]
    return der[r_start:r_end][-size:].rjust(size, b"\0") + der[r_end + 2 :][-size:].rjust(size, b"\0")


def bare_signer(fx: Fixture) -> Callable[[], str]:
    """Fresh claims -> compact JSON -> base64url -> sign -> JWS form: no policy, no checks at all.

    Not a usable signer; it shows how close to the floor anything that does the work can get.
    """
    header = _b64url(_COMPACT.encode({"alg": fx.alg, "kid": fx.kid, "typ": "JWT"}).encode()) + "."
    sign, size = floor_signer(fx.alg, fx.private_key), _ECDSA.get(fx.alg, (None, 0))[1]

    def sign_token() -> str:
        signing_input = header + _b64url(_COMPACT.encode(peer_claims()).encode())
        signature = sign(signing_input.encode("ascii"))
        assert isinstance(signature, bytes)
        return f"{signing_input}.{_b64url(_raw_rs(signature, size) if size else signature)}"

    return sign_token


def bare_verifier(fx: Fixture) -> Callable[[str], object]:
    """Split -> base64url -> json.loads -> floor verify -> exp: lenient, no other check.

    Not a usable verifier (no strictness, no kid or alg checks); reference only.
    """
    verify = floor_verifier(fx.alg, fx.public_key)

    def verify_token(token: str) -> object:
        signing_input, _, signature = token.rpartition(".")
        payload = signing_input.partition(".")[2]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        verify(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)), signing_input.encode())
        if claims["exp"] <= time.time():
            raise ValueError("expired")
        return claims

    return verify_token


def split_token(token: str) -> tuple[bytes, bytes]:
    """(signature, signing input) of a compact JWS, decoded once outside the timing."""
    head, _, sig = token.rpartition(".")
    return pyjwt.utils.base64url_decode(sig), head.encode("ascii")


# --- cases ---------------------------------------------------------------------------------------


def peer_signers(fx: Fixture) -> dict[str, Callable[[], str | bytes]]:
    """Each peer's sign: fresh iss/iat/exp/jti claims, the jwtseal header, a pre-loaded key."""
    header = {"alg": fx.alg, "kid": fx.kid}
    jose_key = jose_jwk.import_key(fx.private_jwk)
    authlib_jwt, authlib_key = JsonWebToken([fx.alg]), JsonWebKey.import_key(fx.private_jwk)
    pyjwt_key, pyjwt_header = fx.private_key, {"kid": fx.kid}
    return {
        "pyjwt": lambda: pyjwt.encode(peer_claims(), pyjwt_key, algorithm=fx.alg, headers=pyjwt_header),
        "joserfc": lambda: jose_jwt.encode(header, peer_claims(), jose_key, algorithms=[fx.alg]),
        "authlib": lambda: authlib_jwt.encode(header, peer_claims(), authlib_key),
    }


def sign_cases(fx: Fixture) -> list[Case]:
    signing_input = split_token(fx.issuer.sign(CLIENT_CLAIMS))[1]
    floor = floor_signer(fx.alg, fx.private_key)
    thunks: dict[str, Thunk] = {"floor": lambda: floor(signing_input)}
    if isinstance(fx.private_key, ec.EllipticCurvePrivateKey):
        floor_rs = raw_ecdsa_signer(fx.alg, fx.private_key)
        thunks["floor-rs"] = lambda: floor_rs(signing_input)
    thunks["bare"] = bare_signer(fx)
    thunks["jwtseal"] = lambda: fx.issuer.sign(CLIENT_CLAIMS)
    thunks.update(peer_signers(fx))
    return [Case(fx.alg, "sign", impl, fn) for impl, fn in thunks.items()]


def verify_cases(fx: Fixture) -> list[Case]:
    signers = peer_signers(fx)
    pools = {impl: cycler([as_str(sign()) for _ in range(POOL_SIZE)]) for impl, sign in signers.items()}
    own = [fx.issuer.sign(CLIENT_CLAIMS) for _ in range(POOL_SIZE)]
    own_pool, floor_pool = cycler(own), cycler([split_token(t) for t in own])
    floor, bare_verify = floor_verifier(fx.alg, fx.public_key), bare_verifier(fx)
    jwks_verifier, ring_verifier = Verifier(PublicKeySet.from_document(fx.jwks)), Verifier(fx.keyring)
    jose_key, jose_claims = jose_jwk.import_key(fx.public_jwk), jose_jwt.JWTClaimsRegistry()
    authlib_jwt, authlib_key = JsonWebToken([fx.alg]), JsonWebKey.import_key(fx.public_jwk)

    def jose_verify() -> object:
        token = jose_jwt.decode(pools["joserfc"](), jose_key, algorithms=[fx.alg])
        jose_claims.validate(token.claims)  # exp/nbf/iat, as jwtseal checks by default
        return token

    def authlib_verify() -> object:
        claims = authlib_jwt.decode(pools["authlib"](), authlib_key)
        claims.validate()
        return claims

    thunks: dict[str, Thunk] = {
        "floor": lambda: floor(*floor_pool()),
        "bare": lambda: bare_verify(own_pool()),
        "jwtseal": lambda: jwks_verifier.verify(own_pool()),
        "jwtseal-ring": lambda: ring_verifier.verify(own_pool()),
        "pyjwt": lambda: pyjwt.decode(pools["pyjwt"](), fx.public_key, algorithms=[fx.alg]),
        "joserfc": jose_verify,
        "authlib": authlib_verify,
    }
    return [Case(fx.alg, "verify", impl, fn) for impl, fn in thunks.items()]


def check_cases(fx: Fixture, cases: list[Case]) -> None:
    """Every case must succeed: a benchmark of an exception path measures nothing."""
    for case in cases:
        for _ in range(POOL_SIZE + 1):
            case.fn()
    tokens = [as_str(case.fn()) for case in cases if case.op == "sign" and not case.impl.startswith("floor")]
    verifier = Verifier(fx.keyring)
    for token in tokens:  # every signer made a token jwtseal accepts, with the same claims
        claims = verifier.verify(token, issuer=ISSUER)
        assert claims["sub"] == CLIENT_CLAIMS["sub"], token
        assert claims["exp"] - claims["iat"] == TOKEN_TTL, token


# --- timing --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    cpu: float  # seconds this thread ran: time spent descheduled by neighbours does not count
    wall: float


def timed(fn: Thunk, iterations: int) -> Timing:
    wall, cpu = time.perf_counter(), time.thread_time()
    for _ in range(iterations):
        fn()
    return Timing(time.thread_time() - cpu, time.perf_counter() - wall)


def calibrate(fn: Thunk, seconds: float) -> int:
    """Iterations that take about ``seconds`` of CPU; doubles as the warm-up."""
    iterations = 1
    while (elapsed := timed(fn, iterations).cpu) < CALIBRATION_SECONDS:
        iterations *= 2
    return max(1, round(iterations * seconds / elapsed))


def run(cases: list[Case], rounds: int, seconds: float, seed: int, clock: str) -> list[Result]:
    results = {c.key: Result(c.alg, c.op, c.impl, c.label, calibrate(c.fn, seconds)) for c in cases}
    order = list(cases)
    shuffle = random.Random(seed).shuffle
    for number in range(1, rounds + 1):
        shuffle(order)
        print(f"  round {number}/{rounds} ...", file=sys.stderr, flush=True)
        for case in order:
            result = results[case.key]
            timing = timed(case.fn, result.iterations)
            result.samples.append(result.iterations / (timing.cpu if clock == "cpu" else timing.wall))
            result.cpu_share.append(timing.cpu / timing.wall)
    return [results[c.key] for c in cases]


# --- report --------------------------------------------------------------------------------------


def figure(result: Result, stat: str) -> float:
    return result.best if stat == "best" else result.median


def floors(results: list[Result], stat: str) -> dict[tuple[str, str], float]:
    return {(r.alg, r.op): figure(r, stat) for r in results if r.impl == "floor"}


def table(results: list[Result], stat: str) -> Iterator[str]:
    floor = floors(results, stat)
    width = max(len(r.label) for r in results)
    head = f"  {'':<{width}}  {'ops/s':>9}  {'vs floor':>8}  {'us/op':>7}  {'spread':>6}"
    for (alg, op), floor_ops in floor.items():
        yield f"{alg} {op}"
        yield head
        for r in (r for r in results if (r.alg, r.op) == (alg, op)):
            ops = figure(r, stat)
            yield (
                f"  {r.label:<{width}}  {ops:>9,.0f}  {ops / floor_ops:>8.1%}"
                f"  {1e6 / ops:>7.1f}  {r.spread:>6.1%}"
            )
        yield ""


def verdicts(results: list[Result], stat: str) -> list[dict[str, Any]]:
    floor = floors(results, stat)
    by_key = {(r.alg, r.op, r.impl): r for r in results}
    out = []
    for t in TARGETS:
        result = by_key.get((t.alg, t.op, t.impl))
        if result is None:
            continue
        ratio = figure(result, stat) / floor[(t.alg, t.op)]
        out.append({**asdict(t), "label": result.label, "ratio": ratio, "met": ratio >= t.min_ratio})
    return out


def print_report(results: list[Result], stat: str, algs: list[str], settings: str) -> list[dict[str, Any]]:
    print(f"\njwtseal from {Path(jwtseal.__file__).parent}, cryptography {metadata.version('cryptography')}")
    print(f"{settings}")
    print(f"ops/s = the {stat} of the rounds; spread = (max - min) / median of the rounds\n")
    for line in table(results, stat):
        print(line)
    print("The floor is cryptography alone on the same signing input, with pre-built padding/hash objects:")
    for alg in algs:
        print(f"  {alg:<6} {FLOOR_NOTES[alg]}")
    print("Peers get pre-loaded key objects; their sign sets iss/iat/exp/jti like jwtseal's ClaimsPolicy;")
    print("every verify checks exp/nbf/iat (joserfc: JWTClaimsRegistry.validate, authlib: validate()).\n")
    found = verdicts(results, stat)
    print("Targets")
    for v in found:
        mark = "MET   " if v["met"] else "MISSED"
        need = f"need >= {v['min_ratio']:.0%}"
        print(f"  {mark} {v['alg']} {v['op']} {v['label']}: {v['ratio']:.1%} of floor ({need})")
    return found


def summary(result: Result) -> dict[str, Any]:
    return {**asdict(result), "best": result.best, "median": result.median, "spread": result.spread}


def environment(cpu: int) -> dict[str, Any]:
    packages = ["cryptography", "PyJWT", "joserfc", "Authlib", "jwtseal"]
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": cpu_model(),
        "cpu": cpu,
        "loadavg": os.getloadavg(),
        "versions": {name: metadata.version(name) for name in packages},
        "jwtseal_path": str(Path(jwtseal.__file__).parent),
    }


def cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor()
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "")


# --- main ----------------------------------------------------------------------------------------


def _algorithm_list(value: str) -> list[str]:
    algs = [alg.strip() for alg in value.split(",") if alg.strip()]
    unknown = [alg for alg in algs if alg not in ALL_ALGS]
    if unknown or not algs:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(ALL_ALGS)}")
    return algs


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", type=int, default=0, help="core to pin to (default 0)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 rounds of 0.05 s")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--seconds", type=float, default=0.3, help="seconds per case per round (default 0.3)")
    parser.add_argument("--stat", choices=("best", "median"), default="best", help="figure per case")
    parser.add_argument(
        "--clock", choices=("cpu", "wall"), default="cpu", help="divide by thread CPU time or wall time"
    )
    parser.add_argument(
        "--extra-algs", action="store_true", help=f"also {', '.join(EXTRA_ALGS)}: all ten algorithms"
    )
    parser.add_argument(
        "--algs",
        type=_algorithm_list,
        metavar="ALG,...",
        help="exactly these algorithms (e.g. RS384,ES512), instead of the default three",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed for the order of cases in rounds")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.seconds = 2, 0.05
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.sched_setaffinity(0, {args.cpu})
    algs = args.algs or [*DEFAULT_ALGS, *(EXTRA_ALGS if args.extra_algs else ())]
    with tempfile.TemporaryDirectory(prefix="jwtseal-bench-") as directory:
        cases: list[Case] = []
        for alg in algs:
            fx = make_fixture(alg, Path(directory))
            alg_cases = sign_cases(fx) + verify_cases(fx)
            check_cases(fx, alg_cases)
            cases += alg_cases
        print(f"{len(cases)} cases, pinned to cpu {args.cpu}, calibrating ...", file=sys.stderr, flush=True)
        results = run(cases, args.rounds, args.seconds, args.seed, args.clock)
    share = statistics.median(x for r in results for x in r.cpu_share)
    settings = (
        f"{args.rounds} rounds x {args.seconds:g} s on cpu {args.cpu}, {args.clock} clock;"
        f" this process got {share:.0%} of the core (median)"
    )
    found = print_report(results, args.stat, algs, settings)
    if args.json:
        document = {
            "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "environment": environment(args.cpu),
            "floor_notes": {alg: FLOOR_NOTES[alg] for alg in algs},
            "results": [summary(r) for r in results],
            "targets": found,
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 1 if args.check and not all(v["met"] for v in found) else 0


if __name__ == "__main__":
    sys.exit(main())
