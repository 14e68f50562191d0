"""Command line: -t (config check), --version, -h, bad configs at startup."""
import json
import re
import subprocess
import time

import pytest

from conftest import PROD_BINARY, TEST_BINARY, free_port


def run(args, timeout=10, binary=PROD_BINARY):
    p = subprocess.run([binary] + args, capture_output=True, timeout=timeout, text=True)
    return p.returncode, p.stdout, p.stderr


def write(tmp_path, cfg, name="c.json"):
    p = tmp_path / name
    p.write_text(cfg if isinstance(cfg, str) else json.dumps(cfg))
    return str(p)


def base(**extra):
    cfg = {
        "workers": 1,
        "listen": [{"address": "127.0.0.1", "port": 18080}],
        "admin": {"address": "127.0.0.1", "port": 19901},
        "upstreams": {"u": {"targets": [{"url": "http://127.0.0.1:18081"}]}},
        "routes": [{"name": "r1", "match": {"path_prefix": "/api"}, "upstream": "u"}],
    }
    cfg.update(extra)
    return cfg


def errors(stderr):
    return [l for l in stderr.splitlines() if l.startswith("error: ")]


def warnings(stderr):
    return [l for l in stderr.splitlines() if l.startswith("warning: ")]


def test_version():
    code, out, err = run(["--version"])
    assert code == 0
    assert re.match(r"^portcullis \d+\.\d+\.\d+", out), out


def test_help():
    code, out, err = run(["-h"])
    assert code == 0
    assert "-t -c FILE" in out and "-c FILE" in out
    assert "headers" in out  # plugin types are listed


def test_help_lists_registered_plugin_types():
    """docs/config.md: "a registered plugin type (`portcullis -h` lists them)".
    The test binary registers test_async, so its -h must list it."""
    code, out, err = run(["-h"], binary=TEST_BINARY)
    assert code == 0
    assert "test_async" in out, out


def test_no_arguments_is_usage_error():
    code, out, err = run([])
    assert code != 0
    assert "usage" in err


def test_unknown_option():
    code, out, err = run(["--bogus"])
    assert code != 0
    assert "usage" in err


def test_check_valid_config_warns_no_auth(tmp_path):
    code, out, err = run(["-t", "-c", write(tmp_path, base())])
    assert code == 0, err
    assert errors(err) == []
    w = warnings(err)
    assert any(l.startswith("warning: routes[0]") and "authentication" in l for l in w), err
    assert "valid" in err


def test_check_sample_configs():
    import os
    src = os.environ.get("PC_SRCDIR") or os.path.join(os.path.dirname(__file__), "..", "..")
    for name in ("example.json", "demo.json"):
        path = os.path.join(src, "conf", name)
        if not os.path.exists(path):
            continue
        code, out, err = run(["-t", "-c", path])
        assert code == 0, (name, err)


def test_check_public_listener_warning(tmp_path):
    cfg = base(listen=[{"address": "0.0.0.0", "port": 18080}])
    code, out, err = run(["-t", "-c", write(tmp_path, cfg)])
    assert code == 0, err
    assert any(l.startswith("warning: listen[0]") and "TLS" in l for l in warnings(err)), err


def test_check_loopback_listener_no_tls_warning(tmp_path):
    code, out, err = run(["-t", "-c", write(tmp_path, base())])
    assert not any("TLS" in l for l in warnings(err)), err


def test_check_unknown_key_with_path(tmp_path):
    cfg = base()
    cfg["routes"][0]["mtach"] = cfg["routes"][0].pop("match")
    code, out, err = run(["-t", "-c", write(tmp_path, cfg)])
    assert code == 1
    errs = errors(err)
    assert any(l.startswith("error: routes[0].mtach:") and "unknown key" in l for l in errs), err
    assert "invalid" in err


@pytest.mark.parametrize("mutate,path", [
    (lambda c: c.update(wrokers=2), "wrokers"),
    (lambda c: c["listen"][0].update(adress="127.0.0.1"), "listen[0].adress"),
    (lambda c: c["admin"].update(bogus=1), "admin.bogus"),
    (lambda c: c["upstreams"]["u"].update(balancr="hash"), "upstreams.u.balancr"),
    (lambda c: c["upstreams"]["u"]["targets"][0].update(wieght=1),
     "upstreams.u.targets[0].wieght"),
    (lambda c: c["routes"][0]["match"].update(path_prefx="/x"), "routes[0].match.path_prefx"),
    (lambda c: c.update(limits={"max_body": 1}), "limits.max_body"),
])
def test_check_unknown_keys_at_every_depth(tmp_path, mutate, path):
    cfg = base()
    mutate(cfg)
    code, out, err = run(["-t", "-c", write(tmp_path, cfg)])
    assert code == 1, err
    assert any(l.startswith("error: %s:" % path) for l in errors(err)), err


def test_check_reports_all_errors(tmp_path):
    cfg = base()
    cfg["listen"][0]["port"] = 70000
    cfg["upstreams"]["u"]["targets"][0]["url"] = "http://127.0.0.1:18081/path"
    cfg["routes"][0]["match"]["path_prefix"] = "api"
    code, out, err = run(["-t", "-c", write(tmp_path, cfg)])
    assert code == 1
    errs = errors(err)
    for p in ("listen[0].port", "upstreams.u.targets[0].url", "routes[0].match.path_prefix"):
        assert any(l.startswith("error: %s:" % p) for l in errs), (p, err)


@pytest.mark.parametrize("mutate,path", [
    (lambda c: c.update(workers="2"), "workers"),
    (lambda c: c.update(workers=2.0), "workers"),
    (lambda c: c.update(workers=-1), "workers"),
    (lambda c: c["routes"][0].update(upstream="nope"), "routes[0].upstream"),
    (lambda c: c["routes"][0].update(plugins=["nope"]), "routes[0].plugins[0]"),
    (lambda c: c["upstreams"]["u"].update(balancer="fastest"), "upstreams.u.balancer"),
    (lambda c: c["upstreams"]["u"]["targets"][0].update(url="https://127.0.0.1:1"),
     "upstreams.u.targets[0].url"),
    (lambda c: c["routes"][0]["match"].update(path_prefix="/a/../b"), "routes[0].match.path_prefix"),
    (lambda c: c["routes"][0].update(limits={"max_url_bytes": 100}), "routes[0].limits.max_url_bytes"),
    (lambda c: c.update(plugins={"p": {"type": "no_such_type"}}), "plugins.p"),
    (lambda c: c.update(plugins={"p": {"type": "headers", "reqest": {}}}), "plugins.p"),
    (lambda c: c["listen"][0].update(tls={}), "listen[0].tls"),
    (lambda c: c.pop("listen"), "listen"),
])
def test_check_invalid_values(tmp_path, mutate, path):
    cfg = base()
    mutate(cfg)
    code, out, err = run(["-t", "-c", write(tmp_path, cfg)])
    assert code == 1, err
    assert any(l.startswith("error: " + path) for l in errors(err)), err


def test_check_test_plugin_unknown_to_production_binary(tmp_path):
    cfg = base(plugins={"p": {"type": "test_async"}})
    cfg["routes"][0]["plugins"] = ["p"]
    path = write(tmp_path, cfg)
    code, out, err = run(["-t", "-c", path], binary=TEST_BINARY)
    assert code == 0, err
    code, out, err = run(["-t", "-c", path], binary=PROD_BINARY)
    assert code == 1
    assert any(l.startswith("error: plugins.p") for l in errors(err)), err


def test_check_duplicate_key(tmp_path):
    text = json.dumps(base())[:-1] + ', "workers": 2}'
    code, out, err = run(["-t", "-c", write(tmp_path, text)])
    assert code == 1
    assert "workers" in err


def test_check_syntax_error_has_line_and_column(tmp_path):
    path = write(tmp_path, '{\n  "workers": 1,\n  "listen": [\n}\n')
    code, out, err = run(["-t", "-c", path])
    assert code == 1
    assert re.search(re.escape(path) + r":\d+:\d+", err), err


def test_check_missing_file(tmp_path):
    code, out, err = run(["-t", "-c", str(tmp_path / "nope.json")])
    assert code == 1
    assert err.strip()


def test_startup_with_bad_config_exits_nonzero(tmp_path):
    cfg = base()
    cfg["routes"][0]["mtach"] = {}
    path = write(tmp_path, cfg)
    t0 = time.monotonic()
    p = subprocess.run([TEST_BINARY, "-c", path], capture_output=True, timeout=10, text=True)
    assert p.returncode != 0
    assert "routes[0].mtach" in p.stderr
    assert time.monotonic() - t0 < 5


def test_startup_with_missing_file_exits_nonzero(tmp_path):
    p = subprocess.run([TEST_BINARY, "-c", str(tmp_path / "missing.json")], capture_output=True,
                       timeout=10, text=True)
    assert p.returncode != 0


def test_startup_port_in_use_exits_nonzero(tmp_path):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    try:
        cfg = base(listen=[{"address": "127.0.0.1", "port": s.getsockname()[1]}],
                   admin={"address": "127.0.0.1", "port": free_port()})
        p = subprocess.run([TEST_BINARY, "-c", write(tmp_path, cfg)], capture_output=True,
                           timeout=10, text=True)
        assert p.returncode != 0
        assert "listen[0]" in p.stderr
    finally:
        s.close()


# ---- secrets (store.password is a core secret field) -------------------------------


def store_cfg(password):
    return base(store={"type": "redis", "url": "redis://127.0.0.1:6379/0", "password": password})


def run_env(args, env):
    import os
    p = subprocess.run([PROD_BINARY] + args, capture_output=True, timeout=10, text=True,
                       env=dict(os.environ, **env))
    return p.returncode, p.stdout, p.stderr


def test_check_inline_secret_warning(tmp_path):
    code, out, err = run(["-t", "-c", write(tmp_path, store_cfg("s3cret"))])
    assert code == 0, err
    assert any(l.startswith("warning: store.password") and "inline" in l
               for l in warnings(err)), err
    assert "s3cret" not in err  # the secret itself is never printed


def test_check_secret_from_env(tmp_path):
    path = write(tmp_path, store_cfg({"env": "PC_E2E_SECRET"}))
    code, out, err = run_env(["-t", "-c", path], {"PC_E2E_SECRET": "abc"})
    assert code == 0, err
    assert not any("store.password" in l for l in warnings(err)), err
    code, out, err = run_env(["-t", "-c", path], {"PC_E2E_SECRET": ""})
    assert code == 1
    assert any(l.startswith("error: store.password") for l in errors(err)), err


def test_check_secret_from_file(tmp_path):
    import os
    sec = tmp_path / "secret"
    sec.write_text("abc\n")
    os.chmod(str(sec), 0o600)
    code, out, err = run(["-t", "-c", write(tmp_path, store_cfg({"file": str(sec)}))])
    assert code == 0, err
    assert not any("store.password" in l for l in warnings(err)), err
    os.chmod(str(sec), 0o644)
    code, out, err = run(["-t", "-c", write(tmp_path, store_cfg({"file": str(sec)}))])
    assert code == 0, err
    assert any(l.startswith("warning: store.password") and "readable" in l
               for l in warnings(err)), err
    code, out, err = run(["-t", "-c", write(tmp_path, store_cfg({"file": str(tmp_path / "no")}))])
    assert code == 1
    assert any(l.startswith("error: store.password") for l in errors(err)), err
