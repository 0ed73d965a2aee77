"""Helpers of the feed integration tests: the engine's own record of a daemon's day."""
from __future__ import annotations

import numpy as np

from exchange.config import load_config
from exchange.journal import read_records
from exchange.recovery import engine_for_config
from matching import EVENT_DTYPE


def journal_events(daemon):
    """``(engine, events)``: a fresh engine for the daemon's configuration after every
    command of its journal, and all the events it produced (the daemon's own, event for
    event: the engine is deterministic)."""
    engine = engine_for_config(load_config(daemon.config_path))
    events = [engine.process(rec.rows) for rec in read_records(daemon.state_dir)]
    return engine, np.concatenate(events) if events else np.zeros(0, EVENT_DTYPE)
