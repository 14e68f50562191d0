"""tests/e2e/procs.py: ending the helper processes the e2e tests start
(mock upstreams, the mock identity provider, redis-server)."""
import subprocess


def terminate(proc, grace=5):
    """SIGTERM, up to `grace` s to exit, then SIGKILL. Safe to repeat."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
