"""The engine daemon's error for what stops it."""

__all__ = ["GatewayError"]


class GatewayError(RuntimeError):
    """The daemon cannot start (bad keys, a busy port, an unusable state dir or journal)."""
