"""The token debugger page at ``/``, driven in Debian's Chromium against a real server.

Every browser test ends by checking that the page asked nothing of any other
origin and logged no console error (CSP violations are console errors).
Screenshots of each state land in ``tests/artifacts/``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest
from playwright.sync_api import (
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)

from jwtseal.http.page import CONTENT_SECURITY_POLICY, PAGE_FILES

from .conftest import API_KEY, RunningService, StartService

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "artifacts"
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 375, "height": 812}
#: The article's forged token: HS256, no ``kid``.
FORGED = (
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9."
    "eyJleHAiOjE2MTUwNjI5OTUsImlhdCI6MTYxNTA1ODk2NSwiZ3JvY2VyeUxpc3QiOlsibWlsayIsImVnZ3MiLCJjb29raWVzIiwi"
    "Y2FuZHkiXSwianRpIjoiZjFlYjRiMTktYjQwYy00NWQ3LWIyZjgtYWNlMjY1NWNhZDliIn0."
    "-B-8-m8hwmOWKSUI1B3wOmYaPWyegihVIi6U17D5H1M"
)
#: Chromium logs every 4xx answer to fetch(); refusals are expected answers of these endpoints.
EXPECTED_REFUSAL = re.compile(r"Failed to load resource: the server responded with a status of 40[01] ")


@dataclass
class Debugger:
    """One Chromium profile with the page open, recording requests and console errors."""

    context: BrowserContext
    page: Page
    origin: str
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def open(self) -> None:
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.console_errors.append(f"uncaught: {error}"))
        response = self.page.goto(self.origin + "/")
        assert response is not None
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        expect(self.page.locator("html")).to_have_attribute("data-ready", "true")
        expect(self.page.locator("#keys-status")).to_contain_text("published")

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location.get("url", "")
            expected = EXPECTED_REFUSAL.match(message.text) and where.endswith(("/decode", "/encode"))
            if not expected:
                self.console_errors.append(f"{message.text} ({where})")

    def paste(self, token: str) -> None:
        self.page.get_by_label("Encoded token").fill(token)

    @property
    def verdict(self) -> Locator:
        return self.page.locator("#verdict")

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)

    def assert_clean(self) -> None:
        """Only this origin was asked for anything, and the console holds no error."""
        assert self.requests, "the page made no request at all"
        foreign = [url for url in self.requests if not url.startswith(self.origin + "/")]
        assert foreign == []
        assert self.console_errors == []


OpenDebugger = Callable[[RunningService], Debugger]


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """Debian's Chromium with a fresh profile, shared by this module's tests.

    Each test's server listens on its own port, so each test is its own
    origin: storage, permissions and cookies do not leak between tests.
    """
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: run scripts/install-browser"
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tmp_path_factory.mktemp("chromium-profile"),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport=DESKTOP,
            reduced_motion="reduce",
            color_scheme="light",
            service_workers="block",
        )
        context.set_default_timeout(5000)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def open_debugger(chromium: BrowserContext) -> Iterator[OpenDebugger]:
    """Open the page of a running service in a new tab."""
    pages: list[Page] = []

    def open_page(service: RunningService) -> Debugger:
        page = chromium.new_page()
        pages.append(page)
        debugger = Debugger(chromium, page, service.url)
        debugger.open()
        return debugger

    yield open_page
    for page in pages:
        page.close()


@pytest.fixture
def debugger(running: RunningService, open_debugger: OpenDebugger) -> Debugger:
    return open_debugger(running)


class _Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_every_page_file_is_served_with_the_strict_csp(running: RunningService) -> None:
    folder = resources.files("jwtseal.http").joinpath("static")
    assert sorted(entry.name for entry in folder.iterdir()) == sorted(name for name, _ in PAGE_FILES.values())
    for path, (_, content_type) in PAGE_FILES.items():
        response = running.client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"] == content_type.decode()
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
    directives = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["default-src"] == "'none'"
    for name in ("script-src", "style-src", "connect-src", "img-src"):
        assert directives[name] == "'self'", name
    assert "unsafe" not in CONTENT_SECURITY_POLICY
    assert "http" not in CONTENT_SECURITY_POLICY


def test_the_page_has_no_inline_script_or_style() -> None:
    markup = _Markup()
    markup.feed(resources.files("jwtseal.http").joinpath("static/index.html").read_text())
    scripts = [attrs for tag, attrs in markup.tags if tag == "script"]
    assert scripts == [{"type": "module", "src": "/static/main.js"}]
    assert "style" not in [tag for tag, _ in markup.tags]
    inline = [
        (tag, name) for tag, attrs in markup.tags for name in attrs if name == "style" or name[:2] == "on"
    ]
    assert inline == []
    loads = {"src", "href", "action", "srcset", "poster", "data", "formaction"}
    addresses = [value or "" for _, attrs in markup.tags for name, value in attrs.items() if name in loads]
    assert [address for address in addresses if not address.startswith(("/", "#"))] == []


def test_a_fresh_token_shows_verified_with_its_key(running: RunningService, debugger: Debugger) -> None:
    token = running.token({"sub": "alice", "groceryList": ["milk", "eggs"]})
    kid = running.service.keyring.view().signing_key.kid
    page = debugger.page

    debugger.paste(token)

    expect(debugger.verdict).to_have_attribute("data-state", "verified")
    expect(debugger.verdict).to_contain_text("Signature verified")
    expect(debugger.verdict).to_contain_text(kid)
    expect(debugger.verdict).to_contain_text(running.settings.algorithm)
    expect(page.locator("#header-json")).to_contain_text(f'"kid": "{kid}"')
    expect(page.locator("#claims-json")).to_contain_text('"groceryList": [\n    "milk",')
    expect(page.locator("[data-claim=iat] .times-human")).to_have_text(
        re.compile(r"^issued (just now|\d+ seconds? ago)$")
    )
    expect(page.locator("[data-claim=exp] .times-human")).to_have_text("expires in 23 hours")
    expect(page.locator("[data-claim=exp] .times-raw")).to_contain_text(re.compile(r"^\d{10} · \d{4}-"))
    expect(page.locator(f".key[data-kid='{kid}'] .key-signer-note")).to_be_visible()
    debugger.screenshot("decoder-verified-1280")
    debugger.assert_clean()


def test_one_changed_character_is_refused(running: RunningService, debugger: Debugger) -> None:
    token = running.token()
    position = token.rindex(".") + 10
    tampered = token[:position] + ("A" if token[position] != "A" else "B") + token[position + 1 :]

    debugger.paste(tampered)

    expect(debugger.verdict).to_have_attribute("data-state", "refused")
    expect(debugger.verdict).to_contain_text("Token refused")
    expect(debugger.verdict.locator(".verdict-code")).to_have_text(
        re.compile("^(bad_signature|malformed_token)$")
    )
    expect(debugger.page.locator("#claims-json")).to_contain_text("groceryList")
    debugger.screenshot("decoder-bad-signature-1280")
    debugger.assert_clean()


def test_the_articles_forged_token_shows_missing_kid(debugger: Debugger) -> None:
    page = debugger.page

    debugger.paste(FORGED)

    expect(debugger.verdict).to_have_attribute("data-state", "refused")
    expect(debugger.verdict.locator(".verdict-code")).to_have_text("missing_kid")
    expect(debugger.verdict).to_contain_text("Token has no Key ID")
    expect(page.locator("#header-json")).to_contain_text('"alg": "HS256"')
    expect(page.locator("#claims-json")).to_contain_text('"cookies"')
    expect(page.locator("[data-claim=exp] .times-human")).to_have_text(re.compile(r"^expired \d+ years ago$"))
    expect(page.locator("[data-claim=exp] .times-raw")).to_have_text("1615062995 · 2021-03-06 20:36:35 UTC")
    expect(page.locator("[data-claim=iat] .times-raw")).to_have_text("1615058965 · 2021-03-06 19:29:25 UTC")
    debugger.screenshot("decoder-missing-kid-1280")
    page.emulate_media(color_scheme="dark")
    debugger.screenshot("decoder-missing-kid-dark-1280")
    debugger.assert_clean()


def test_a_token_that_is_no_jws_is_explained_and_refused(debugger: Debugger) -> None:
    debugger.paste("not.a-token")

    expect(debugger.page.locator("#header-json")).to_contain_text("Cannot decode")
    expect(debugger.verdict.locator(".verdict-code")).to_have_text("malformed_token")
    debugger.page.get_by_role("button", name="Clear").click()
    expect(debugger.verdict).to_have_attribute("data-state", "idle")
    expect(debugger.page.get_by_label("Encoded token")).to_be_focused()
    debugger.assert_clean()


def test_the_issue_flow_gives_a_token_that_verifies(running: RunningService, debugger: Debugger) -> None:
    page = debugger.page
    debugger.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=running.url)
    editor = page.get_by_label("Claims to sign")
    status = page.locator("#claims-status")
    expect(status).to_have_text("Valid JSON object with 2 claims.")

    editor.fill('{"sub": "bob", ')
    expect(status).to_contain_text("Not valid JSON")
    expect(editor).to_have_attribute("aria-invalid", "true")
    editor.fill('{"sub": "bob", "jti": "mine"}')
    expect(status).to_have_text('The service sets "jti" itself; remove it.')
    editor.fill('{"sub": "bob", "groceryList": ["milk", "candy"], "aud": "shop"}')
    expect(status).to_have_text("Valid JSON object with 3 claims.")
    expect(editor).to_have_attribute("aria-invalid", "false")

    page.get_by_label("API key").fill("wrong-key")
    page.get_by_label("API key").press("Enter")
    expect(page.locator("#issue-error")).to_contain_text("unauthorized")
    page.get_by_label("API key").fill(API_KEY)
    page.get_by_label("API key").press("Enter")

    issued = page.get_by_label("Issued token")
    expect(issued).to_have_value(re.compile(r"^[\w-]+\.[\w-]+\.[\w-]+$"))
    expect(page.locator("#issue-error")).to_be_hidden()
    token = issued.input_value()
    assert running.client.post("/decode", json={"token": token}).json()["sub"] == "bob"
    page.get_by_role("button", name="Copy").click()
    expect(page.locator("#copy-status")).to_have_text("Copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == token
    debugger.screenshot("issue-issued-1280")

    page.get_by_role("button", name="Load into decoder").focus()
    page.keyboard.press("Enter")

    expect(page.get_by_label("Encoded token")).to_have_value(token)
    expect(page.get_by_label("Encoded token")).to_be_focused()
    expect(debugger.verdict).to_have_attribute("data-state", "verified")
    expect(page.locator("#claims-json")).to_contain_text('"aud": "shop"')
    stored = page.evaluate("[localStorage.length, sessionStorage.length, document.cookie]")
    assert stored == [0, 0, ""]
    assert debugger.context.cookies(running.url) == []
    debugger.screenshot("issue-loaded-1280")
    debugger.assert_clean()


def test_the_key_panel_lists_the_jwks_keys(running: RunningService, open_debugger: OpenDebugger) -> None:
    running.token()
    running.service.keyring.rotate()
    described = running.client.get("/keys").json()["keys"]
    jwks = running.client.get("/.well-known/jwks.json").json()["keys"]
    debugger = open_debugger(running)
    cards = debugger.page.locator("#key-list > li")

    expect(cards).to_have_count(len(jwks))
    assert sorted(cards.evaluate_all("cards => cards.map(card => card.dataset.kid)")) == sorted(
        key["kid"] for key in jwks
    )
    assert {key["state"] for key in described} == {"next", "current", "retired"}
    for key in described:
        card = debugger.page.locator(f".key[data-kid='{key['kid']}']")
        expect(card.locator(".key-kid")).to_have_text(key["kid"])
        expect(card.locator(".badge-alg")).to_have_text(key["alg"])
        expect(card.locator(f".badge-{key['state']}")).to_have_text(key["state"])
        expect(card.locator(f"time[datetime='{key['created']}']").first).to_be_visible()
    expect(debugger.page.locator("#keys-status")).to_have_text(f"{len(jwks)} keys published.")
    debugger.screenshot("keys-1280")
    debugger.assert_clean()


def test_a_typed_jwks_uri_is_fetched_by_the_service(
    start_service: StartService, open_debugger: OpenDebugger
) -> None:
    other = start_service()
    service = start_service(JWTSEAL_TRUSTED_JWKS_URIS=other.url + "/.well-known/")
    debugger = open_debugger(service)
    page = debugger.page

    debugger.paste(other.token())
    expect(debugger.verdict.locator(".verdict-code")).to_have_text("unknown_kid")
    page.get_by_label("JWKS URI").fill(other.settings.jwks_uri)
    page.get_by_role("button", name="Verify").click()

    expect(debugger.verdict).to_have_attribute("data-state", "verified")
    expect(debugger.verdict).to_contain_text(f"against the JWKS at {other.settings.jwks_uri}")
    page.get_by_label("JWKS URI").fill("http://example.invalid/jwks.json")
    page.get_by_label("JWKS URI").press("Enter")
    expect(debugger.verdict).to_have_attribute("data-state", "error")
    expect(debugger.verdict.locator(".verdict-code")).to_have_text("jwks_uri_not_allowed")
    debugger.screenshot("decoder-jwks-uri-refused-1280")
    debugger.assert_clean()


def test_at_375_px_nothing_scrolls_sideways(running: RunningService, debugger: Debugger) -> None:
    page = debugger.page
    page.set_viewport_size(PHONE)
    running.service.keyring.rotate()
    page.get_by_role("button", name="Refresh").click()
    page.get_by_text("Audience and issuer checks").click()
    expect(page.get_by_label("Expected audience")).to_be_visible()

    debugger.paste(running.token({"sub": "a-rather-long-subject-" * 4, "groceryList": ["milk"] * 3}))

    expect(debugger.verdict).to_have_attribute("data-state", "verified")
    debugger.screenshot("page-verified-375")
    debugger.paste(FORGED)
    expect(debugger.verdict.locator(".verdict-code")).to_have_text("missing_kid")
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths == [375, 375]
    too_wide = page.evaluate(
        "[...document.querySelectorAll('body *')]"
        ".filter(node => node.getBoundingClientRect().right > 375.5).map(node => node.id || node.className)"
    )
    assert too_wide == []
    debugger.screenshot("page-missing-kid-375")
    debugger.assert_clean()


def test_every_control_is_labelled_and_reachable_by_keyboard(debugger: Debugger) -> None:
    page = debugger.page
    unlabelled = page.evaluate(
        "[...document.querySelectorAll('input, textarea, select')]"
        ".filter(control => control.labels.length === 0).map(control => control.id)"
    )
    assert unlabelled == []
    reached: list[str] = []
    for _ in range(40):
        page.keyboard.press("Tab")
        reached.append(
            page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()")
        )
    for control in ("token", "jwks-uri", "Verify", "clear-token", "api-key", "claims-editor", "refresh-keys"):
        assert control in reached
    debugger.assert_clean()


def test_the_browser_enforces_the_csp(debugger: Debugger) -> None:
    page = debugger.page
    page.evaluate("document.body.setAttribute('style', 'color: red')")
    page.evaluate("fetch('http://127.0.0.2:9/').catch(() => null)")

    for _ in range(50):
        if len(debugger.console_errors) >= 2:
            break
        page.wait_for_timeout(20)
    assert any("style-src" in error for error in debugger.console_errors)
    assert any("connect-src" in error for error in debugger.console_errors)
    assert page.evaluate("getComputedStyle(document.body).color") != "rgb(255, 0, 0)"
    assert [url for url in debugger.requests if "127.0.0.2" in url] == []
