"""tests/pytest_noskip.py: a pytest plugin that turns every skip into a
failure when PC_NO_SKIP is set (scripts/test.sh sets it, so CI does).

A test that skips because redis-server, a Python module or a compiler is
missing proves nothing; in CI that is a broken machine, not a pass. Strict
xfails are left alone: they are expected outcomes, not skips.
Loaded with `-p pytest_noskip` (tests/ on PYTHONPATH) by the e2e and Lua
runners."""
import os

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if os.environ.get("PC_NO_SKIP") and rep.skipped and not hasattr(rep, "wasxfail"):
        rep.outcome = "failed"
        where = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        rep.longrepr = "skipped under PC_NO_SKIP (CI): %s" % where


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    # a module-level importorskip skips the whole file at collection time
    outcome = yield
    rep = outcome.get_result()
    if os.environ.get("PC_NO_SKIP") and rep.skipped:
        rep.outcome = "failed"
