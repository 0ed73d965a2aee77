"""The console's event streams are capped: past ``MAX_STREAMS`` open streams a new one gets 503
with a Retry-After, and a stream that closes makes room again."""
import asyncio

from starlette.requests import Request

import web.app
from exchange.config import default_config
from web.market import MarketView


def _events_endpoint(app):
    return next(r.endpoint for r in app.routes if getattr(r, "path", None) == "/events")


def _request() -> Request:
    return Request({"type": "http", "method": "GET", "path": "/events", "query_string": b"", "headers": []})


def test_streams_past_the_cap_are_refused_until_one_closes(tmp_path, monkeypatch):
    monkeypatch.setattr(web.app, "MAX_STREAMS", 3)
    market = MarketView(tmp_path)
    events = _events_endpoint(web.app.create_app(tmp_path, default_config(), market=market))

    opened = [asyncio.run(events(_request())) for _ in range(3)]
    assert [r.status_code for r in opened] == [200, 200, 200]
    assert market.subscribers == 3

    refused = asyncio.run(events(_request()))
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "5"
    assert b"at most 3 event streams" in refused.body
    assert market.subscribers == 3                      # a refused stream holds no queue

    market.unsubscribe(next(iter(market._queues)))      # a page went away
    assert asyncio.run(events(_request())).status_code == 200
    assert market.subscribers == 3
