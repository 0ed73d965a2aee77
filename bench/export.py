"""A benchmark workload written to files, so that another engine can be run on the same
commands and checked against ours trade for trade.

For a workload ``NAME`` the directory gets:

``NAME.setup.npy``, ``NAME.timed.npy``
    The commands, numpy ``.npy`` files of ``COMMAND_DTYPE`` rows (little-endian, C-aligned:
    the manifest gives every field's offset, so a C or Java reader needs no numpy).
``NAME.trades.csv``
    The trades the engine makes on the timed stream from the state the setup leaves:
    ``buy_order_id,sell_order_id,price,qty``, one per line, in order. Order ids are
    numbered from 1 in the order new orders are accepted, setup included.
``NAME.json``
    The manifest: the instruments and their trading parameters, risk, fees and accounts,
    the seed and sizes, the command layout and the meaning of the codes, the shadow's
    statistics and the file names.

>>> import json, tempfile
>>> from bench.workloads import broker_mix
>>> w = broker_mix(n_commands=500, n_resting=400)
>>> with tempfile.TemporaryDirectory() as d:
...     paths = export_workload(w, d)
...     manifest = json.loads(paths[-1].read_text())
...     timed = np.load(f"{d}/broker_mix.timed.npy")
>>> [p.name for p in paths]
['broker_mix.setup.npy', 'broker_mix.timed.npy', 'broker_mix.trades.csv', 'broker_mix.json']
>>> bool((timed == w.timed).all()), manifest["commands"]["timed"], manifest["layout"]["itemsize"]
(True, 500, 96)
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from matching import CommandType, OrderType, Side, StpMode, TimeInForce
from matching.dtypes import COMMAND_DTYPE

from .plain_book import engine_trades
from .workloads import SETUP_CHUNK, Workload

__all__ = ["export_workload"]


def _layout() -> dict:
    return {
        "itemsize": COMMAND_DTYPE.itemsize,
        "fields": [{"name": name, "type": COMMAND_DTYPE.fields[name][0].str, "offset": COMMAND_DTYPE.fields[name][1]}
                   for name in COMMAND_DTYPE.names],
    }


def _codes() -> dict:
    return {enum.__name__: {m.name: int(m) for m in enum} for enum in (CommandType, Side, OrderType, TimeInForce, StpMode)}


def _trades(workload: Workload, engine_cls) -> list:
    engine = workload.make_engine(engine_cls)
    for start in range(0, len(workload.setup), SETUP_CHUNK):
        engine.process(workload.setup[start:start + SETUP_CHUNK])
    return engine_trades(engine.process(workload.timed))


def export_workload(workload: Workload, directory: str | Path, engine_cls=None, sizes: dict | None = None) -> list[Path]:
    """Write ``workload`` into ``directory`` (created if missing); the paths written, manifest last.

    ``engine_cls`` makes the expected trades (default: the compiled engine); ``sizes`` (the
    generator's arguments) go into the manifest.
    """
    if engine_cls is None:
        from matching import Engine             # noqa: PLC0415 - the compiled engine, only when exporting
        engine_cls = Engine
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    name = workload.name
    setup, timed, trades, manifest = (out / f"{name}.setup.npy", out / f"{name}.timed.npy",
                                      out / f"{name}.trades.csv", out / f"{name}.json")
    np.save(setup, workload.setup, allow_pickle=False)
    np.save(timed, workload.timed, allow_pickle=False)
    made = _trades(workload, engine_cls)
    with open(trades, "w", encoding="ascii") as f:
        f.write("buy_order_id,sell_order_id,price,qty\n")
        f.writelines(f"{b},{s},{p},{q}\n" for b, s, p, q in made)
    document = {
        "workload": name,
        "seed": workload.seed,
        "sizes": sizes,
        "files": {"setup": setup.name, "timed": timed.name, "trades": trades.name},
        "commands": {"setup": len(workload.setup), "timed": len(workload.timed)},
        "trades": len(made),
        "instruments": [dataclasses.asdict(i) for i in workload.instruments],
        "max_accounts": workload.max_accounts,
        "risk": workload.risk,
        "fees_bps": {int(t): list(pair) for t, pair in (workload.fees or {}).items()},
        "accounts": workload.accounts,
        "units": {"price": "fen per tonne", "qty": "tonnes", "ts": "ns"},
        "layout": _layout(),
        "codes": _codes(),
        "stats": workload.stats,
    }
    manifest.write_text(json.dumps(document, indent=1, default=int) + "\n", encoding="utf-8")
    return [setup, timed, trades, manifest]
