"""The web console: the public market pages and the operator's console (an ASGI app).

A separate process (``chuanyu web``), never in the order path: it follows the daemon's feed
as a subscriber (:class:`web.market.MarketView`), reads the disclosure files in the state
dir, and speaks to the daemon's admin socket only for the console, with the admin key pair.

Public pages (no login; each one whole without JavaScript, then kept live by
``static/live.js`` from server-sent events where a browser runs it):

- ``/``: the market overview: each instrument's phase, last, change, open, high, low,
  volume by trade type, best bid and offer;
- ``/instrument/SYMBOL``: its order book, fixed-price listings, trades and the intraday
  price and volume chart;
- ``/eod`` and ``/eod/YYYYMMDD``: the end-of-day reports; ``/vitality``: the vitality
  indicators with charts (:mod:`exchange.vitality`);
- ``/events``: what changed, batch by batch (server-sent events, see :mod:`web.market`);
  ``/api/...``: the same state as JSON.

The console (``/console``) is closed unless ``[web] console_password`` is set: see
:mod:`web.console`.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from matching import TradeType

from .charts import Series, bar_chart, line_chart
from .market import MarketView, intraday_bars

__all__ = ["create_app"]

HERE = Path(__file__).parent
HEARTBEAT_S = 15
MAX_STREAMS = 256                 # open event streams; each holds a queue of up to 2,000 notices
_DATE = re.compile(r"\d{8}")
BOOK_DEPTH = 10
TRADES_SHOWN = 30


def _yuan(fen) -> str:
    return "–" if fen is None else f"{fen / 100:,.2f}"


def _signed_yuan(fen) -> str:
    return "–" if fen is None else f"{fen / 100:+,.2f}"


def _tonnes(qty) -> str:
    return "–" if qty is None else f"{qty:,}"


def create_app(state_dir, config, admin_key: str = "admin", market: MarketView | None = None) -> Starlette:
    """The app over the daemon whose state dir is ``state_dir`` (``config``: its MarketConfig)."""
    from . import console

    state_dir = Path(state_dir)
    kinds = {i.symbol: (i.kind.name, i.region.name) for i in config.instruments}
    market = market or MarketView(state_dir, kinds, {i.symbol: i.reference_price for i in config.instruments})
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters.update(yuan=_yuan, signed_yuan=_signed_yuan, tonnes=_tonnes)
    templates.env.globals.update(trade_types=("CONTINUOUS", "FIXED", "BLOCK", "AUCTION"))

    def page(request: Request, name: str, status_code: int = 200, **context) -> HTMLResponse:
        return templates.TemplateResponse(request, name, {"market": market, **context}, status_code=status_code)

    async def overview(request: Request):
        return page(request, "overview.html", rows=[market.summary(s) for s in market.symbols])

    async def overview_fragment(request: Request):
        return page(request, "_overview_table.html", rows=[market.summary(s) for s in market.symbols])

    def instrument_context(symbol: str) -> dict:
        day = market.days.get(symbol)
        trades = list(day.trades)[-TRADES_SHOWN:][::-1] if day else []
        return {"symbol": symbol, "row": market.summary(symbol), "book": market.book(symbol, BOOK_DEPTH),
                "listings": market.book(symbol, BOOK_DEPTH, book=TradeType.FIXED), "trades": trades,
                "charts": _intraday_charts(symbol, day)}

    async def instrument(request: Request):
        symbol = request.path_params["symbol"]
        if symbol not in market.symbols:
            return page(request, "error.html", 404, title="No such instrument",
                        message=f"The market lists no instrument {symbol!r}.")
        return page(request, "instrument.html", **instrument_context(symbol))

    async def instrument_fragment(request: Request):
        symbol = request.path_params["symbol"]
        if symbol not in market.symbols:
            return Response("no such instrument", 404)
        return page(request, "_instrument_live.html", **instrument_context(symbol))

    async def eod(request: Request):
        dates = sorted((p.name[4:12] for p in state_dir.glob("eod-*.json") if _DATE.fullmatch(p.name[4:12])),
                       reverse=True)
        date = request.path_params.get("date") or (dates[0] if dates else None)
        report = None
        if date is not None:
            if not _DATE.fullmatch(date):
                return page(request, "error.html", 404, title="No such report", message="Dates are YYYYMMDD.")
            try:
                report = json.loads((state_dir / f"eod-{date}.json").read_text())
            except FileNotFoundError:
                return page(request, "error.html", 404, title="No such report",
                            message=f"There is no end-of-day report of {date}.")
            except ValueError:
                return page(request, "error.html", 500, title="Unreadable report",
                            message=f"The end-of-day report of {date} cannot be read.")
        return page(request, "eod.html", dates=dates, date=date, report=report)

    async def vitality(request: Request):
        from exchange import vitality as v

        from .vitality_page import page as vitality_page
        days, _ = v.read_days(state_dir)
        if not days:
            return page(request, "error.html", 404, title="No vitality figures yet",
                        message="There are no end-of-day reports yet.")
        tables = {by: v.group(days, by) for by in v.BY}
        return HTMLResponse(vitality_page(tables, days))

    async def events(request: Request):
        symbol = request.query_params.get("symbol")
        if market.subscribers >= MAX_STREAMS:
            return Response(f"at most {MAX_STREAMS} event streams at once", 503, headers={"Retry-After": "5"})
        queue = market.subscribe()

        async def stream():
            try:
                yield "retry: 1000\n\n"
                while True:
                    try:
                        message = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
                    except asyncio.TimeoutError:
                        yield ": heartbeat\n\n"
                        continue
                    if symbol and message["type"] == "update":
                        if symbol not in message["symbols"]:
                            continue
                        message = {**message, "symbols": [symbol],
                                   "trades": {k: v for k, v in message["trades"].items() if k == symbol}}
                    yield f"data: {json.dumps(message, separators=(',', ':'))}\n\n"
            finally:
                market.unsubscribe(queue)
        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def api_overview(request: Request):
        return JSONResponse({"error": market.error, "instruments": [market.summary(s) for s in market.symbols]})

    async def api_book(request: Request):
        symbol = request.path_params["symbol"]
        if symbol not in market.symbols:
            return JSONResponse({"error": f"no such instrument {symbol!r}"}, 404)
        return JSONResponse({"symbol": symbol, "seq": market.client.seq if market.client else None,
                             **market.book(symbol)})

    @contextlib.asynccontextmanager
    async def lifespan(app):
        task = asyncio.create_task(market.run())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    routes = [
        Route("/", overview), Route("/fragment/overview", overview_fragment),
        Route("/instrument/{symbol}", instrument), Route("/fragment/instrument/{symbol}", instrument_fragment),
        Route("/eod", eod), Route("/eod/{date}", eod), Route("/vitality", vitality),
        Route("/events", events), Route("/api/overview", api_overview), Route("/api/book/{symbol}", api_book),
        *console.routes(page, state_dir, config, admin_key),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    middleware = [Middleware(SessionMiddleware, secret_key=secrets.token_urlsafe(32), session_cookie="chuanyu_console",
                             max_age=8 * 3600, same_site="strict", https_only=False)]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.market = market
    return app


def _intraday_charts(symbol: str, day) -> list[str]:
    """The price line and volume bars of continuous and fixed-price trading (SVG)."""
    if day is None or not day.bars:
        return []
    size, bars = intraday_bars(day)
    unit = f"{size} s" if size < 60 else f"{size // 60} min"
    labels = [b[0] for b in bars]
    return [line_chart(f"{symbol} price (last of each {unit})", labels, [Series("price", [b[1] for b in bars])],
                       y_label="yuan / t", fmt=lambda v: f"{v / 100:,.2f}", low=None, height=240),
            bar_chart(f"{symbol} volume (each {unit})", labels, [Series("volume", [b[2] for b in bars])],
                      y_label="t", height=200)]
