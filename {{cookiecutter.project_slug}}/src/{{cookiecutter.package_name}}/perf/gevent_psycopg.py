"""psycopg 3 under gevent: make the driver wait cooperatively (see ensure_cooperative_psycopg)."""

from __future__ import annotations

import selectors
import sys


def ensure_cooperative_psycopg() -> bool:
    """Make psycopg wait through gevent when the standard library is monkey-patched.

    psycopg 3 picks its wait function when first imported: after gevent's patch_all it
    uses the patched poll() and yields to other greenlets, but if it was imported
    before the patch it keeps a C wait loop that blocks the whole worker. Returns True
    when the wait function had to be switched.
    """
    monkey = sys.modules.get("gevent.monkey")
    if monkey is None or not monkey.is_module_patched("select"):
        return False
    from psycopg import waiting

    if waiting.wait is not getattr(waiting, "wait_c", None):
        return False
    # Queries wait in wait(); connecting waits on the selector bound at import time.
    waiting.wait = waiting.wait_poll
    waiting.DefaultSelector = selectors.DefaultSelector
    return True
