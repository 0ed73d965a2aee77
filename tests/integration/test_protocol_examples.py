"""docs/PROTOCOL.md against a real daemon: its runnable examples run, as printed, twice;
``endpoints.json`` and the key files are as it describes them; and every report carries
what the per-message field tables say (``tools.protocol_doc.MESSAGES``)."""
import json
import os
import re
import stat
import subprocess
import sys

import numpy as np

from conftest import MARKET, REPO, Daemon, _env
from exchange.admin import AdminClient
from gateway.client import Client, load_keys
from gateway.protocol import (
    LOGIN_ACK_DTYPE, ORDER_TYPES, OUTBOUND_LAYOUTS, PROTOCOL_VERSION, REPORT_TYPES, GatewayReject, MsgType, encode,
)
from matching import CommandType, Side
from tools import protocol_doc

DOC = REPO / "docs" / "PROTOCOL.md"


def _example(name: str) -> str:
    """The code of the runnable example ``name`` exactly as the document prints it."""
    text = DOC.read_text(encoding="utf-8")
    m = re.search(rf"<!-- runnable example: {name} -->\n```python\n(.*?)```", text, re.DOTALL)
    assert m, f"no runnable example {name!r} in {DOC}"
    return m.group(1)


def _run(code: str, state_dir) -> str:
    # the examples take their daemon from the environment, as the document says
    env = {**_env(), "CHUANYU_STATE_DIR": str(state_dir)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
                          cwd=state_dir.parent)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_minimal_client_runs_twice(fresh_daemon):
    code = _example("minimal-client")
    assert "import chuanyu" not in code and "from gateway" not in code      # pyzmq and struct only
    runs = []
    for _ in range(2):
        lines = [line.split() for line in _run(code, fresh_daemon.state_dir).splitlines()]
        runs.append(lines)
        # the IOC buy does not cross the sell: its remainder is CANCELLED, reason 2 IOC_REMAINDER
        assert [(kind, reason) for kind, reason, *_ in lines] == [("ACK", "0"), ("ACK", "0"), ("CANCELLED", "2")]
    first, second = ([int(line[3]) for line in run[:2]] for run in runs)
    assert second[0] == first[1] + 1 and second[1] == second[0] + 1       # numbered after the last one


def test_the_library_example_runs_twice(fresh_daemon):
    code = _example("library-client")
    last = []
    for _ in range(2):
        out = _run(code, fresh_daemon.state_dir)
        m = re.fullmatch(r"100 of 100 accepted, client order ids up to (\d+)\n", out)
        assert m, out
        last.append(int(m.group(1)))
    assert last == [100, 200]


def _documented_endpoint_keys() -> set:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("### endpoints.json"):text.index("### Key files")]
    return set(re.findall(r"^\| `(\w+)` \|", section, re.MULTILINE))


def test_endpoints_json_has_the_documented_keys(fresh_daemon):
    info = json.loads((fresh_daemon.state_dir / "endpoints.json").read_text())
    assert set(info) == _documented_endpoint_keys()
    assert info["pid"] == fresh_daemon.proc.pid
    assert info["instruments"] == ["SCEA2026", "CQEA2026", "CCER2025"]
    assert len(info["server_public_key"]) == 40
    assert os.path.isabs(info["keys_dir"])
    assert info["metrics"] is None                        # no [daemon] metrics_port in the test market
    assert all(info[k].startswith("tcp://127.0.0.1:") for k in ("orders", "admin", "feed", "feed_snapshots",
                                                                 "drop_copy"))
    public, _ = load_keys(info["keys_dir"], "server")
    assert public.decode() == info["server_public_key"]


def _quoted(path, key: str):
    """A key read from a key file by the document's rule: the quoted text after ``key = ``."""
    m = re.search(rf'^\s*{key} = "(.{{40}})"$', path.read_text(), re.MULTILINE)
    return m.group(1).encode() if m else None


def test_key_files_are_as_documented(tmp_path):
    done = subprocess.run([sys.executable, "-m", "chuanyu.cli", "keys", str(tmp_path), "alice"], env=_env(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    public_file, secret_file = tmp_path / "alice.key", tmp_path / "alice.key_secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert _quoted(public_file, "secret-key") is None
    public, secret = load_keys(tmp_path, "alice")
    assert (_quoted(secret_file, "public-key"), _quoted(secret_file, "secret-key")) == (public, secret)
    assert _quoted(public_file, "public-key") == public
    again = subprocess.run([sys.executable, "-m", "chuanyu.cli", "keys", str(tmp_path), "alice"], env=_env(),
                           capture_output=True, text=True, timeout=60)
    assert "kept" in again.stdout and load_keys(tmp_path, "alice") == (public, secret)


# ---------------------------------------------------------------- the field tables against the daemon
SCEA = 0
_MARKET = MARKET.replace('reference_price = 5000\n', 'reference_price = 5000\nblock_min_qty = 1000\n', 1)
_DTYPE_OF = {int(t): dtype for dtype, types, _ in OUTBOUND_LAYOUTS.values() for t in types}


def _unused_are_zero(row: np.ndarray) -> None:
    """Every field the table of ``row``'s type calls not used or reserved is 0."""
    t = int(row["msg_type"])
    msg = row.reshape(1).view(_DTYPE_OF[t])[0]
    for f in protocol_doc.field_use(t):
        if f["use"] != "used":
            assert not np.any(msg[f["name"]]), (MsgType(t).name, f["name"], msg[f["name"]])


class _Rows:
    """A client's raw report rows, kept in arrival order."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.rows: list = []

    def until(self, predicate, timeout_ms: int = 5000) -> list:
        """Receive until ``predicate`` holds for some row received by this call; return those rows."""
        got = []
        while not any(predicate(r) for r in got):
            frame = self.client.recv(timeout_ms)
            assert frame is not None, f"timed out; got {[(int(r['msg_type']), int(r['reason'])) for r in got]}"
            got += list(frame)
        self.rows += got
        return got


def test_reports_fill_the_fields_as_the_tables_say(tmp_path, zctx):
    d = Daemon(tmp_path / "state", _MARKET)
    try:
        public, secret = load_keys(d.keys, "admin")
        admin = AdminClient(d.info["admin"], d.info["server_public_key"], public, secret, context=zctx)
        clients = []
        for session, key in ((1, "sc-platform"), (2, "cq-platform")):
            pub, sec = load_keys(d.keys, key)
            c = Client(d.info["orders"], d.info["server_public_key"], pub, sec, session, heartbeat_ms=1000,
                       context=zctx)
            c.login()
            clients.append(c)
        sc, cq = clients
        rsc, rcq = _Rows(sc), _Rows(cq)

        def answer(rows, coid):
            got = rows.until(lambda r: int(r["client_order_id"]) == coid and int(r["msg_type"]) in (33, 34))
            return next(r for r in got if int(r["client_order_id"]) == coid and int(r["msg_type"]) in (33, 34))

        # continuous: ACK, FILLs, an IOC remainder, REDUCED, REPLACED, CANCELLED
        answer(rsc, sc.submit(SCEA, 1, Side.SELL, 10, 5000))
        ioc = cq.submit(SCEA, 3, Side.BUY, 15, 5000, tif=3)
        remainder = rcq.until(lambda r: int(r["msg_type"]) == MsgType.CANCELLED)[-1]
        assert (int(remainder["client_order_id"]), int(remainder["qty"]), int(remainder["leaves"])) == (ioc, 5, 0)
        rsc.until(lambda r: int(r["msg_type"]) == MsgType.FILL)
        order = answer(rsc, sc.submit(SCEA, 1, Side.SELL, 20, 5100))
        sc.reduce(int(order["order_id"]), 1, 10)
        rsc.until(lambda r: int(r["msg_type"]) == MsgType.REDUCED)
        sc.replace(int(order["order_id"]), 1, 5101, 10)
        rsc.until(lambda r: int(r["msg_type"]) == MsgType.REPLACED)
        sc.cancel(int(order["order_id"]), 1)
        rsc.until(lambda r: int(r["msg_type"]) == MsgType.CANCELLED)
        # the other trade types
        listing = answer(rsc, sc.list_fixed(SCEA, 1, Side.SELL, 20, 5000, min_qty=5))
        answer(rcq, cq.take_fixed(int(listing["order_id"]), 3, 5))
        admin.request("block_window", instrument="SCEA2026", open=True)
        quote = answer(rsc, sc.block_quote(SCEA, 1, Side.SELL, 1000, 5000, partial=True))
        answer(rcq, cq.block_accept(int(quote["order_id"]), 3, 1000))
        opened = admin.request("auction_open", instrument="SCEA2026", account=2, side="SELL", volume=10,
                               reserve=4000, min_bid=1)
        auction = opened["events"][0]["order_id"]
        answer(rcq, cq.auction_bid(auction, 3, 10, 4500))
        admin.request("auction_close", instrument="SCEA2026")
        rcq.until(lambda r: int(r["msg_type"]) == MsgType.FILL and int(r["ref_type"]) == CommandType.AUCTION_CLOSE)
        # refusals: the engine's, the gateway's, a LOGIN inside a session's frame, a bad frame
        engine_reject = answer(rcq, cq.take_fixed(999_999, 3, 5))
        gateway_reject = answer(rsc, sc.list_fixed(SCEA, 3, Side.SELL, 20, 5000, min_qty=5))
        sc.send_raw(encode(MsgType.LOGIN, version=PROTOCOL_VERSION, session=1))
        login_reject = rsc.until(lambda r: int(r["reason"]) == GatewayReject.ALREADY_LOGGED_IN)[-1]
        sc.send_raw(b"\x01" * 10)
        frame_reject = rsc.until(lambda r: int(r["reason"]) == GatewayReject.MALFORMED_FRAME)[-1]

        rows = rsc.rows + rcq.rows
        seen = {int(r["msg_type"]) for r in rows}
        assert set(map(int, REPORT_TYPES)) <= seen
        for r in rows:
            _unused_are_zero(r)
            if int(r["msg_type"]) == MsgType.ACK:
                assert r["leaves"] == r["qty"]
        refs = {(int(r["msg_type"]), int(r["ref_type"])) for r in rows if int(r["report_seq"])}
        # engine reports name the message that caused them, as gateway rejects do; an operator's
        # command its CommandType
        assert {(MsgType.ACK, MsgType.LIST_FIXED), (MsgType.ACK, MsgType.TAKE_FIXED),
                (MsgType.FILL, MsgType.TAKE_FIXED), (MsgType.ACK, MsgType.BLOCK_QUOTE),
                (MsgType.FILL, MsgType.BLOCK_ACCEPT), (MsgType.ACK, MsgType.AUCTION_BID),
                (MsgType.FILL, CommandType.AUCTION_CLOSE), (MsgType.CANCELLED, MsgType.NEW_ORDER)} <= refs
        assert not {ref for _, ref in refs} & {int(CommandType[t.name]) for t in ORDER_TYPES if int(t) > 4}
        assert (int(engine_reject["ref_type"]), int(engine_reject["reason"])) == (MsgType.TAKE_FIXED, 3013)
        assert int(engine_reject["report_seq"]) > 0
        # a gateway reject names the message type and is outside the numbering
        assert (int(gateway_reject["ref_type"]), int(gateway_reject["reason"])) == \
            (MsgType.LIST_FIXED, GatewayReject.NOT_AUTHORISED)
        assert int(gateway_reject["report_seq"]) == int(gateway_reject["seq"]) == int(gateway_reject["cmd_seq"]) == 0
        assert (int(login_reject["ref_type"]), int(login_reject["session"])) == (MsgType.LOGIN, 1)
        assert (int(frame_reject["ref_type"]), int(frame_reject["qty"]), int(frame_reject["session"])) == (0, 10, 1)

        # the session messages: LOGIN_ACK, SERVER_LOGOUT, SERVER_HEARTBEAT, read raw
        sc.send_raw(encode(MsgType.LOGOUT))
        logout = rsc.until(lambda r: int(r["msg_type"]) == MsgType.SERVER_LOGOUT)[-1]
        _unused_are_zero(logout)
        sc.send_raw(encode(MsgType.LOGIN, version=PROTOCOL_VERSION, session=1, heartbeat_ms=50))
        ack = rsc.until(lambda r: int(r["msg_type"]) == MsgType.LOGIN_ACK)[-1]
        _unused_are_zero(ack)
        view = ack.reshape(1).view(LOGIN_ACK_DTYPE)[0]
        # the refused LIST_FIXED was the last order-creating message: a refused one counts too
        assert int(view["last_client_order_id"]) == int(gateway_reject["client_order_id"])
        beat = rsc.until(lambda r: int(r["msg_type"]) == MsgType.SERVER_HEARTBEAT)[-1]
        _unused_are_zero(beat)
        admin.close()
        for c in clients:
            c.sock.close(linger=0)
    finally:
        d.stop()
