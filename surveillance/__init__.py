"""Market surveillance: alerts with evidence from the regulator's drop copy (live) or the
journal (back-testing), by the same code (:class:`surveillance.detectors.Surveillance`).
``chuanyu surveil`` runs it as its own process, never in the engine's path."""
from .detectors import ALERT_KINDS, Surveillance

__all__ = ["Surveillance", "ALERT_KINDS"]
