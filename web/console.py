"""The operator's console: the daemon's sessions, phases, halts, journal and replication
figures and surveillance alerts, and the actions halt, resume and end of day, each confirmed.

Closed unless the configuration sets ``[web] console_password`` (a scrypt hash from
``chuanyu web password``): every console page then answers 403. With it, the operator logs
in with ``console_user`` and the password; the login is a signed cookie (SameSite=strict,
8 hours), each action form carries the login's own token, forms are url-encoded and at most
4 KiB (413 otherwise, read no further), and five failed logins from one
address within a minute make it wait a minute. The daemon is reached over its admin socket
(CURVE) with the admin key pair named by ``chuanyu web --admin-key``.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import secrets
import time
from collections import defaultdict, deque
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

from exchange.passwords import check_password

__all__ = ["routes", "ACTIONS"]

ACTIONS = {"halt": "Halt", "resume": "Resume", "end_of_day": "End the day of"}
FAILURES_ALLOWED = 5
FAILURE_WINDOW_S = 60
FORM_BYTES = 4096                 # a login or an action: a few fields; more is not a console's form
ALERTS_SHOWN = 50
CST = timezone(timedelta(hours=8))


def routes(page, state_dir: Path, config, admin_key: str) -> list[Route]:
    web = config.web
    failures: dict[str, deque] = defaultdict(deque)

    def closed(request: Request):
        return page(request, "error.html", 403, title="The console is closed",
                    message="No console password is configured: set [web] console_password to what "
                            "`chuanyu web password` prints, and restart `chuanyu web`.")

    def logged_in(request: Request) -> bool:
        return bool(web.console_password) and request.session.get("user") == web.console_user

    async def small_form(request: Request):
        """The form of a POST within :data:`FORM_BYTES` (read no further), else None."""
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > FORM_BYTES:
                return None
        return {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace"), max_num_fields=16).items()} \
            if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded") else None

    def too_large(request: Request):
        return page(request, "error.html", 413, title="Refused",
                    message=f"Console forms are url-encoded and at most {FORM_BYTES:,} bytes.")

    def token_ok(request: Request, form) -> bool:
        return hmac.compare_digest(str(form.get("token", "")), str(request.session.get("token", "")))

    async def login(request: Request):
        if not web.console_password:
            return closed(request)
        if request.method == "GET":
            return page(request, "console_login.html", error=None)
        host = request.client.host if request.client else "?"
        recent = failures[host]
        while recent and recent[0] < time.monotonic() - FAILURE_WINDOW_S:
            recent.popleft()
        if len(recent) >= FAILURES_ALLOWED:
            return page(request, "console_login.html", 429, error="Too many failed logins: wait a minute.")
        form = await small_form(request)
        if form is None:
            return too_large(request)
        user, password = str(form.get("user", "")), str(form.get("password", ""))
        good = await asyncio.to_thread(check_password, password, web.console_password)     # ~50 ms: off the loop
        if not (good and hmac.compare_digest(user.encode(), web.console_user.encode())):
            recent.append(time.monotonic())
            return page(request, "console_login.html", 401, error="Wrong user or password.")
        recent.clear()
        request.session.clear()
        request.session.update(user=user, token=secrets.token_urlsafe(24))
        return RedirectResponse("/console", 303)

    async def logout(request: Request):
        request.session.clear()
        return RedirectResponse("/console/login", 303)

    def admin():
        from exchange.admin import AdminClient
        from gateway.client import load_keys
        info = json.loads((state_dir / "endpoints.json").read_text())
        public, secret = load_keys(Path(info["keys_dir"]), admin_key)
        return AdminClient(info["admin"], info["server_public_key"], public, secret, timeout_ms=3000)

    def ask(op: str, **args) -> dict:
        client = admin()
        try:
            return client.request(op, **args)
        finally:
            client.close()

    async def console(request: Request):
        if not web.console_password:
            return closed(request)
        if not logged_in(request):
            return RedirectResponse("/console/login", 303)
        try:
            status, error = (await asyncio.to_thread(ask, "status"))["status"], None
        except Exception as exc:       # noqa: BLE001  the page says why the daemon did not answer
            status, error = None, f"{exc.__class__.__name__}: {exc}"
        return page(request, "console.html", status=status, error=error, alerts=_alerts(state_dir),
                    actions=ACTIONS, notice=request.session.pop("notice", None), token=request.session["token"],
                    figures=_figures(status) if status else [])

    async def confirm(request: Request):
        if not web.console_password:
            return closed(request)
        if not logged_in(request):
            return RedirectResponse("/console/login", 303)
        form = await small_form(request)
        if form is None:
            return too_large(request)
        action, symbol = str(form.get("action", "")), str(form.get("instrument", ""))
        if not token_ok(request, form) or action not in ACTIONS:
            return page(request, "error.html", 400, title="Refused", message="That request did not come from this console.")
        if form.get("confirmed") != "yes":
            return page(request, "console_confirm.html", action=action, verb=ACTIONS[action], instrument=symbol,
                        token=request.session["token"])
        args = {"instrument": symbol} if symbol else {}
        try:
            reply = await asyncio.to_thread(ask, action, **args)
            kinds = [e.get("kind") for e in reply.get("events", [])]
            rejected = [e for e in reply.get("events", []) if e.get("kind") == "REJECTED"]
            request.session["notice"] = (f"{ACTIONS[action]} {symbol or 'every instrument'}: "
                                         + (f"refused ({rejected[0].get('reason')})" if rejected else
                                            f"done ({len(kinds)} event(s))"))
        except Exception as exc:       # noqa: BLE001  shown to the operator, never a crash
            request.session["notice"] = f"{ACTIONS[action]} {symbol}: failed: {exc}"
        return RedirectResponse("/console", 303)

    return [Route("/console", console), Route("/console/login", login, methods=["GET", "POST"]),
            Route("/console/logout", logout, methods=["POST"]), Route("/console/action", confirm, methods=["POST"])]


def _figures(status: dict) -> list[tuple[str, str]]:
    """The journal, replication and counters as (label, value) lines."""
    out = [("role", str(status.get("replication", {}).get("role", "primary"))),
           ("replication", str(status.get("replication", {}).get("mode", "none"))),
           ("last command", f"{status.get('last_seq', 0):,}"), ("resting orders", f"{status.get('resting_orders', 0):,}")]
    journal = status.get("journal") or {}
    for key in ("mode", "records", "bytes", "segments_opened", "fsync_mean_us"):
        if key in journal:
            value = journal[key]
            out.append((f"journal {key.replace('_', ' ')}", f"{value:,}" if isinstance(value, int) else str(value)))
    for key, value in sorted((status.get("counters") or {}).items()):
        out.append((key.replace("_", " "), f"{value:,}"))
    return out


def _alerts(state_dir: Path) -> list[dict]:
    """The newest surveillance alerts of today's file (``chuanyu surveil``), newest first."""
    path = state_dir / "surveillance" / f"alerts-{datetime.now(CST):%Y%m%d}.jsonl"
    try:
        lines = path.read_text().splitlines()[-ALERTS_SHOWN:]
    except OSError:
        return []
    alerts = []
    for line in reversed(lines):
        try:
            alerts.append(json.loads(line))
        except ValueError:
            continue                  # a line being written
    return alerts
