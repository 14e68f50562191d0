"""Plugins outside the tree: `make install` into a scratch DESTDIR, build
examples/plugin-stamp against the installed SDK with pkg-config, run the
installed gateway with a config that loads stamp.so, and check that the
upstream receives the header. Then what "load" refuses (missing file, not a
shared object, no entry symbol, another ABI, missing hooks, a name clash),
each at `-t` and at startup, with the JSON path; and a SIGHUP reload, which
never re-reads an object already loaded.

A missing compiler, make or pkg-config fails these tests: they are what the
SDK promises, not optional extras.
"""
import glob
import json
import os
import shutil
import subprocess

import pytest
import requests

from conftest import BUILDDIR, TIME_FACTOR, free_port, simple_config

SRCDIR = os.environ.get("PC_SRCDIR", os.path.abspath(os.path.join(os.path.dirname(__file__),
                                                                   "..", "..")))
EXAMPLE = os.path.join(SRCDIR, "examples", "plugin-stamp")
HEADER = os.path.join(SRCDIR, "include", "portcullis", "plugin.h")


def tool(name):
    path = shutil.which(name)
    assert path, "%s is required to build plugins out of tree (not found on PATH)" % name
    return path


def cc():
    """$CC as make would use it, else cc."""
    words = os.environ.get("CC", "cc").split()
    tool(words[0])
    return words


def sub_env(**extra):
    """The environment for make and pkg-config: without the outer make's
    jobserver (make check runs us), with the staged SDK on the search path."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    env.update(extra)
    return env


def run(args, timeout=120, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout * TIME_FACTOR, **kw)


def header_abi():
    with open(HEADER) as f:
        for line in f:
            if line.startswith("#define PC_PLUGIN_ABI "):
                return int(line.split()[2])
    raise AssertionError("no PC_PLUGIN_ABI in " + HEADER)


class Sdk:
    """The staged install: its binary, header, .pc, and pkg-config settings."""

    def __init__(self, stage):
        self.stage = stage
        pcs = glob.glob(os.path.join(stage, "**", "pkgconfig", "portcullis-plugin.pc"),
                        recursive=True)
        bins = glob.glob(os.path.join(stage, "**", "bin", "portcullis"), recursive=True)
        headers = glob.glob(os.path.join(stage, "**", "include", "portcullis", "plugin.h"),
                            recursive=True)
        assert len(pcs) == 1 and len(bins) == 1 and len(headers) == 1, (pcs, bins, headers)
        self.pc, self.binary, self.header = pcs[0], bins[0], headers[0]
        self.env = sub_env(PKG_CONFIG_PATH=os.path.dirname(self.pc), PKG_CONFIG_SYSROOT_DIR=stage)

    def pkg_config(self, *args):
        p = run([tool("pkg-config")] + list(args) + ["portcullis-plugin"], env=self.env)
        assert p.returncode == 0, p.stderr
        return p.stdout.strip()

    def build(self, workdir, name, source):
        """Compiles one C file into a shared object the way a third party
        would: pkg-config's cflags and nothing else of ours."""
        c = os.path.join(workdir, name + ".c")
        so = os.path.join(workdir, name + ".so")
        with open(c, "w") as f:
            f.write(source)
        cflags = self.pkg_config("--cflags").split()
        p = run(cc() + ["-std=c11", "-Wall", "-Werror", "-fPIC", "-shared"] + cflags +
                ["-o", so, c], env=self.env)
        assert p.returncode == 0, p.stderr
        return so


@pytest.fixture(scope="module")
def sdk(tmp_path_factory):
    tool("make")
    cc()
    tool("pkg-config")
    stage = str(tmp_path_factory.mktemp("stage"))
    p = run([tool("make"), "-C", BUILDDIR, "install", "DESTDIR=" + stage], timeout=300,
            env=sub_env())
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return Sdk(stage)


@pytest.fixture(scope="module")
def stamp_so(sdk, tmp_path_factory):
    """examples/plugin-stamp built by its own Makefile, in a copy (the
    source tree may be read-only)."""
    work = str(tmp_path_factory.mktemp("plugin-stamp"))
    for f in ("stamp.c", "Makefile"):
        shutil.copy(os.path.join(EXAMPLE, f), work)
    p = run([tool("make"), "-C", work], env=sdk.env)
    assert p.returncode == 0, p.stdout + p.stderr
    return os.path.join(work, "stamp.so")


PLUGIN_SRC = """
#include <portcullis/plugin.h>
__attribute__((unused)) static int cc(const json_t *node, void **conf, pc_err_t *err)
{
    (void)node; (void)err;
    *conf = 0;
    return 0;
}
static pc_status_t hd(pc_request_t *r, void *conf, void *ctx)
{
    (void)conf; (void)ctx;
    pc_upstream_header_set(r, "X-Test", "1");
    return PC_CONTINUE;
}
const pc_plugin_t pc_plugin_entry = {
    .abi = %(abi)s, .name = "%(name)s", .conf_create = %(cc)s, .on_headers = hd,
};
"""


def tiny_plugin(sdk, workdir, name, abi="PC_PLUGIN_ABI", type_name=None, conf_create="cc"):
    src = PLUGIN_SRC % {"abi": abi, "name": type_name or name, "cc": conf_create}
    return sdk.build(workdir, name, src)


def gateway_config(load, plugins=None, chain=None):
    cfg = {
        "workers": 1,
        "listen": [{"address": "127.0.0.1", "port": free_port()}],
        "admin": {"address": "127.0.0.1", "port": free_port()},
        "upstreams": {"u": {"targets": [{"url": "http://127.0.0.1:9"}]}},
        "routes": [{"name": "r", "match": {"path_prefix": "/"}, "upstream": "u",
                    "plugins": chain or []}],
        "load": load,
    }
    if plugins:
        cfg["plugins"] = plugins
    return cfg


def write_config(tmp_path, cfg, name="c.json"):
    p = tmp_path / name
    p.write_text(json.dumps(cfg))
    return str(p)


def refused_twice(sdk, tmp_path, cfg):
    """The errors of cfg at `-t` and at startup (which must agree)."""
    path = write_config(tmp_path, cfg)
    t = run([sdk.binary, "-t", "-c", path], timeout=20)
    assert t.returncode == 1, t.stderr
    s = run([sdk.binary, "-c", path], timeout=20)
    assert s.returncode != 0, s.stderr
    errs_t = [l for l in t.stderr.splitlines() if l.startswith("error: ")]
    errs_s = [l for l in s.stderr.splitlines() if l.startswith("error: ")]
    assert errs_t and errs_t == errs_s, (t.stderr, s.stderr)
    return errs_t


# ---- the installed SDK ---------------------------------------------------------------


def test_install_puts_the_sdk_in_place(sdk):
    with open(sdk.header) as a, open(HEADER) as b:
        assert a.read() == b.read()
    assert sdk.pkg_config("--variable=abi") == str(header_abi())
    cflags = sdk.pkg_config("--cflags").split()
    assert "-I" + os.path.dirname(os.path.dirname(sdk.header)) in cflags, cflags
    assert sdk.pkg_config("--modversion")
    assert sdk.pkg_config("--print-requires").startswith("jansson")


def test_binary_exports_exactly_the_sdk(sdk):
    """The SDK's functions are visible to dlopened objects; the rest of the
    core (pc_conf_load_file, pc_xmalloc, ...) is not."""
    with open(os.path.join(BUILDDIR, "portcullis.dynlist")) as f:
        sdk_syms = {l.strip().rstrip(";") for l in f if l.strip().startswith("pc_")}
    assert {"pc_deny", "pc_err_set", "pc_upstream_header_set", "pc_async_end"} <= sdk_syms
    p = run([tool("nm"), "-D", "--defined-only", sdk.binary])
    assert p.returncode == 0, p.stderr
    exported = {l.split()[-1] for l in p.stdout.splitlines() if l.split()}
    assert sdk_syms <= exported, sorted(sdk_syms - exported)
    core = {s for s in exported if s.startswith("pc_")} - sdk_syms
    assert core == set(), sorted(core)


# ---- loading stamp.so ----------------------------------------------------------------


def stamped(up, mark):
    return [dict((k.lower(), v) for k, v in r["headers"]).get("x-stamp") for r in up.since(mark)]


def stamp_config(up, stamp_so, value="edge-1"):
    return simple_config(up, load=[stamp_so],
                         plugins={"s": {"type": "stamp", "value": value}},
                         routes=[{"name": "stamped", "match": {"path_prefix": "/s/"},
                                  "upstream": "u", "plugins": ["s"]},
                                 {"name": "plain", "match": {"path_prefix": "/"},
                                  "upstream": "u"}])


def test_stamp_plugin_sets_the_upstream_header(sdk, stamp_so, stack, tmp_path):
    up = stack.upstream("u")
    cfg = stamp_config(up, stamp_so)
    t = run([sdk.binary, "-t", "-c", write_config(tmp_path, dict(cfg, **{
        "listen": [{"address": "127.0.0.1", "port": 1}]}))], timeout=20)
    assert t.returncode == 0 and "configuration is valid" in t.stderr, t.stderr
    g = stack.gateway(cfg, binary=sdk.binary)
    mark = up.mark()
    assert requests.get(g.url + "/s/one", timeout=5).status_code == 200
    assert requests.get(g.url + "/other", timeout=5).status_code == 200
    assert stamped(up, mark) == ["edge-1", None]


def test_stamp_config_errors_name_the_field(sdk, stamp_so, tmp_path):
    cases = [({"type": "stamp"}, "error: plugins.s.value: required"),
             ({"type": "stamp", "value": "v", "header": "Host"},
              'error: plugins.s.header: "Host" is managed by the gateway'),
             ({"type": "stamp", "value": 3}, "error: plugins.s.value: must be a string"),
             ({"type": "stamp", "value": "v", "colour": "red"}, "error: plugins.s.colour: unknown key")]
    for node, want in cases:
        errs = refused_twice(sdk, tmp_path, gateway_config([stamp_so], {"s": node}, ["s"]))
        assert any(e.startswith(want) for e in errs), (want, errs)


def test_reload_keeps_objects_and_each_config_sees_its_own(sdk, stamp_so, stack, tmp_path):
    """SIGHUP: a path already loaded is not read again, even when the file
    changed on disk; a config that no longer lists the object cannot use
    its type."""
    up = stack.upstream("u")
    work = tmp_path / "so"
    work.mkdir()
    so = str(work / "stamp.so")
    shutil.copy(stamp_so, so)
    g = stack.gateway(stamp_config(up, so), binary=sdk.binary)
    # Replace the file (a new inode, as an upgrade would) with one this
    # gateway would refuse: the reload must not look at it.
    bad = tiny_plugin(sdk, str(work), "other", abi="PC_PLUGIN_ABI + 1", type_name="stamp")
    os.replace(bad, so)
    assert g.reload(stamp_config(up, so, value="edge-2"))
    mark = up.mark()
    assert requests.get(g.url + "/s/x", timeout=5).status_code == 200
    assert stamped(up, mark) == ["edge-2"]
    unlisted = stamp_config(up, so, value="edge-3")
    del unlisted["load"]
    assert not g.reload(unlisted)
    assert 'unknown plugin type "stamp"' in g.log()
    mark = up.mark()
    assert requests.get(g.url + "/s/y", timeout=5).status_code == 200
    assert stamped(up, mark) == ["edge-2"]


def test_reload_loads_a_new_path(sdk, stamp_so, stack, tmp_path):
    """A path that first appears in a reloaded config is loaded then."""
    up = stack.upstream("u")
    plain = stamp_config(up, stamp_so)
    del plain["load"], plain["plugins"]
    plain["routes"][0]["plugins"] = []
    g = stack.gateway(plain, binary=sdk.binary)
    mark = up.mark()
    assert requests.get(g.url + "/s/a", timeout=5).status_code == 200
    assert stamped(up, mark) == [None]
    work = tmp_path / "new"
    work.mkdir()
    so = str(work / "stamp.so")  # a path this gateway has not loaded
    shutil.copy(stamp_so, so)
    assert g.reload(stamp_config(up, so, value="late"))
    mark = up.mark()
    assert requests.get(g.url + "/s/b", timeout=5).status_code == 200
    assert stamped(up, mark) == ["late"]


# ---- what "load" refuses, at -t and at startup ------------------------------------------


def test_missing_file(sdk, tmp_path):
    missing = str(tmp_path / "nope" / "stamp.so")
    errs = refused_twice(sdk, tmp_path, gateway_config([missing]))
    assert errs == ["error: load[0]: %s: No such file or directory" % missing]


def test_relative_path(sdk, tmp_path):
    errs = refused_twice(sdk, tmp_path, gateway_config(["stamp.so"]))
    assert errs == ["error: load[0]: must be the absolute path of a shared object"]


def test_not_a_shared_object(sdk, tmp_path):
    text = tmp_path / "text.so"
    text.write_text("not an ELF file\n" * 100)
    errs = refused_twice(sdk, tmp_path, gateway_config([str(text)]))
    prefix = "error: load[0]: %s: cannot load: " % text
    assert len(errs) == 1 and errs[0].startswith(prefix), errs
    assert str(text) not in errs[0][len(prefix):], errs  # dlerror's copy of the path is cut


def test_no_entry_symbol(sdk, tmp_path):
    so = sdk.build(str(tmp_path), "noentry", "int noentry_answer(void);\n"
                   "int noentry_answer(void) { return 42; }\n")
    errs = refused_twice(sdk, tmp_path, gateway_config([so]))
    assert errs == ["error: load[0]: %s: no symbol pc_plugin_entry: not a portcullis plugin" % so]


def test_bad_abi(sdk, tmp_path):
    so = tiny_plugin(sdk, str(tmp_path), "future", abi="PC_PLUGIN_ABI + 1")
    abi = header_abi()
    errs = refused_twice(sdk, tmp_path, gateway_config([so]))
    assert errs == ["error: load[0]: %s was built for plugin ABI %d, this gateway speaks %d"
                    % (so, abi + 1, abi)]


def test_required_hook_missing(sdk, tmp_path):
    so = tiny_plugin(sdk, str(tmp_path), "nocreate", conf_create="0")
    errs = refused_twice(sdk, tmp_path, gateway_config([so]))
    assert errs == ["error: load[0]: %s: conf_create is required (a plugin validates its "
                    "configuration)" % so]


def test_name_clash_with_a_built_in(sdk, tmp_path):
    so = tiny_plugin(sdk, str(tmp_path), "fakeheaders", type_name="headers")
    errs = refused_twice(sdk, tmp_path, gateway_config([so]))
    assert errs == ['error: load[0]: %s: plugin type "headers" is built in' % so]


def test_name_clash_between_objects(sdk, stamp_so, tmp_path):
    other = tiny_plugin(sdk, str(tmp_path), "stamp2", type_name="stamp")
    errs = refused_twice(sdk, tmp_path, gateway_config([stamp_so, other]))
    assert errs == ['error: load[1]: %s: plugin type "stamp" is already loaded from %s'
                    % (other, stamp_so)]


def test_same_file_twice(sdk, stamp_so, tmp_path):
    link = str(tmp_path / "link.so")
    os.symlink(stamp_so, link)
    errs = refused_twice(sdk, tmp_path, gateway_config([stamp_so, link]))
    assert errs == ["error: load[1]: %s: the same file as load[0]" % link]


def test_load_must_be_a_list_of_strings(sdk, tmp_path):
    errs = refused_twice(sdk, tmp_path, gateway_config([7]))
    assert errs == ["error: load[0]: must be the absolute path of a shared object"]
    cfg = gateway_config([])
    cfg["load"] = "/x/stamp.so"
    errs = refused_twice(sdk, tmp_path, cfg)
    assert len(errs) == 1 and errs[0].startswith("error: load: "), errs


def test_core_internals_are_not_reachable(sdk, tmp_path):
    """A plugin that calls a core function plugin.h does not declare is
    refused when it is loaded (RTLD_NOW), not when a request reaches it."""
    so = sdk.build(str(tmp_path), "internal", PLUGIN_SRC.replace(
        '    pc_upstream_header_set(r, "X-Test", "1");',
        '    extern void *pc_conf_load_file(const char *, void *);\n'
        '    if (!pc_conf_load_file("/dev/null", 0))\n'
        '        pc_upstream_header_set(r, "X-Test", "1");') % {
            "abi": "PC_PLUGIN_ABI", "name": "internal", "cc": "cc"})
    errs = refused_twice(sdk, tmp_path, gateway_config([so]))
    assert errs == ["error: load[0]: %s: cannot load: undefined symbol: pc_conf_load_file" % so]
