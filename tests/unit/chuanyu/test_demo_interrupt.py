"""A Ctrl-C the demo's signal handler raised but a finaliser swallowed still stops the demo."""
import signal
import sys

import pytest

from chuanyu import demo


def test_a_swallowed_interrupt_is_raised_again_at_the_loop_s_next_check(monkeypatch):
    demo._INTERRUPTED.clear()
    demo._check_interrupted()                       # nothing pending: no exception
    swallowed = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: swallowed.append(u.exc_type))

    class Finalised:
        def __del__(self):
            demo._interrupt(signal.SIGINT, None)    # Python reports it as unraisable and goes on

    Finalised()
    assert swallowed == [KeyboardInterrupt]
    with pytest.raises(KeyboardInterrupt):
        demo._check_interrupted()
    demo._INTERRUPTED.clear()
