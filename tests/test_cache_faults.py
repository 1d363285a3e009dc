"""Run-time faults around the compile cache: damaged, foreign and planted disk entries are
detected and rebuilt (never executed), a full or read-only disk degrades to in-memory caching
with exactly one warning, and compile/call cycles keep resident memory bounded.

(tests/test_runtime.py covers the cross-process cases: a second process loading without
compiling, damage seen by a fresh process, racing processes, an untrusted directory.)
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import gradjit
import gradjit.runtime as rt
from gradjit.runtime import cache, jit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _traced(body):
    """body traced for f64[4] under the name `f`: two bodies share their symbol name, so the
    object code of one is loadable (and would run) at the other's key."""
    def f(x):
        return body(x)

    return gradjit.jit(f).trace(np.ones(4))


GOOD = lambda x: x * 2.0 + 1.0  # noqa: E731
EVIL = lambda x: x * 3.0 - 1.0  # noqa: E731  (what a planted entry would compute)
X = np.arange(4.0)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADJIT_CACHE_DIR", str(tmp_path / "cache"))
    rt._memory.clear()
    yield tmp_path / "cache"
    rt._memory.clear()


def _key(fn) -> str:
    return rt._key(fn, dict(rt.default_options()))


def _evil_entry():
    """(header, object code) of EVIL, compiled and stored under its own key."""
    fn = _traced(EVIL)
    rt.compile_function(fn)
    rt.wait_optimized()  # (the optimized object is what is stored)
    return cache.load(_key(fn))


def _store_as(key, header, obj, monkeypatch, **claims):
    """A well-formed entry (valid hash) at `key`, its header claiming `claims` about who built
    it (by default: this process)."""
    identity = dict(cache._identity(), **claims)
    body = {k: v for k, v in header.items() if k not in ("key", *identity)}
    with monkeypatch.context() as mp:
        mp.setattr(cache, "_identity", lambda: identity)
        assert cache.store(key, body, obj)


def _damaged(edit):
    """EVIL's entry at the key with this process's header, then its bytes edited."""
    def plant(key, header, obj, monkeypatch):
        _store_as(key, header, obj, monkeypatch)
        with open(cache._path(key), "rb") as f:
            data = f.read()
        with open(cache._path(key), "wb") as f:
            f.write(edit(data))

    return plant


def _claiming(**claims):
    """EVIL's entry at the key, well-formed, but built by another gradjit / target / CPU."""
    return lambda key, header, obj, monkeypatch: _store_as(key, header, obj, monkeypatch,
                                                            **claims)


def _copied(key, header, obj, monkeypatch):
    """EVIL's own valid entry copied to another key's file name (a colliding or moved entry)."""
    os.makedirs(os.path.dirname(cache._path(key)), exist_ok=True)
    with open(cache._path(header["key"]), "rb") as src, open(cache._path(key), "wb") as dst:
        dst.write(src.read())


def _flip(data: bytes) -> bytes:
    return data[:-40] + bytes([data[-40] ^ 0x5A]) + data[-39:]  # inside the object code


FAULTS = {  # kind: (how the entry at GOOD's key is made, the reason logged)
    "truncated": (_damaged(lambda d: d[: len(d) // 2]), "content hash mismatch"),
    "flipped-byte": (_damaged(_flip), "content hash mismatch"),
    "bad-magic": (_damaged(lambda d: b"X" + d[1:]), "bad magic"),
    "empty": (_damaged(lambda d: b""), "bad magic"),
    "other-key": (_copied, "key mismatch"),
    "wrong-version": (_claiming(gradjit="0.0.1"), "built for gradjit '0.0.1'"),
    "foreign-triple": (_claiming(triple="aarch64-unknown-linux-gnu"),
                       "built for triple 'aarch64-unknown-linux-gnu'"),
    "foreign-cpu": (_claiming(cpu="cortex-a72"), "built for cpu 'cortex-a72'"),
}


def test_a_valid_planted_entry_would_run(cache_dir, monkeypatch):
    """The control for the table below: an entry at the right key whose header matches this
    process is trusted and executed (the header check is what refuses the foreign ones)."""
    good = _traced(GOOD)
    header, obj = _evil_entry()
    _store_as(_key(good), header, obj, monkeypatch)
    np.testing.assert_array_equal(rt.compile_function(good)([X])[0], EVIL(X))


@pytest.mark.parametrize("kind", list(FAULTS))
def test_damaged_or_foreign_entries_are_rebuilt_not_executed(kind, cache_dir, monkeypatch,
                                                             caplog):
    good = _traced(GOOD)
    key, (plant, reason) = _key(good), FAULTS[kind]
    plant(key, *_evil_entry(), monkeypatch)
    rt._memory.clear()
    before = jit.STATS["compiles"]
    with caplog.at_level("WARNING", logger="gradjit.runtime"):
        run = rt.compile_function(good)
        rt.wait_optimized()
    np.testing.assert_array_equal(run([X])[0], GOOD(X))  # not EVIL's code
    assert jit.STATS["compiles"] == before + 1  # detected, so rebuilt
    assert f"ignoring damaged entry {cache._path(key)}" in caplog.text and reason in caplog.text
    header, _ = cache.load(key)  # the rebuilt entry is ours, and is loaded next time
    assert {k: header[k] for k in ("gradjit", "triple", "cpu")} == cache._identity()
    rt._memory.clear()
    np.testing.assert_array_equal(rt.compile_function(good)([X])[0], GOOD(X))
    assert jit.STATS["compiles"] == before + 1


def test_entries_record_who_built_them(cache_dir):
    import gradjit as g

    fn = _traced(GOOD)
    rt.compile_function(fn)
    rt.wait_optimized()
    header, _ = cache.load(_key(fn))
    triple, cpu = jit.target_id().split("|")[:2]
    assert header["gradjit"] == g.__version__ and header["triple"] == triple
    assert header["cpu"] == cpu and header["key"] == _key(fn)


# ---- a full or read-only disk -------------------------------------------------------------

class _FullDisk:
    """A file whose every write fails as on a full disk (what write(2) reports: ENOSPC)."""

    def __init__(self, f):
        self.f = f

    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def _read_only(*args, **kwargs):
    raise OSError(errno.EROFS, os.strerror(errno.EROFS))


WRITE_FAULTS = {  # fault: (what to replace, by what, the reason in the warning)
    "full-disk": ("fdopen", lambda real: lambda fd, *a, **k: _FullDisk(real(fd, *a, **k)),
                  "No space left on device"),
    "read-only": ("mkstemp", lambda real: _read_only, "Read-only file system"),
}


@pytest.mark.parametrize("fault", list(WRITE_FAULTS))
def test_an_unwritable_disk_degrades_to_memory_with_one_warning(fault, cache_dir, monkeypatch):
    name, fake, reason = WRITE_FAULTS[fault]
    module = os if name == "fdopen" else cache.tempfile
    bodies = [lambda x, k=k: np.sin(x) * k + 1.0 for k in range(3)]
    fns = [_traced(b) for b in bodies]
    before = jit.STATS["compiles"]
    with warnings.catch_warnings(record=True) as caught, monkeypatch.context() as mp:
        warnings.simplefilter("always")
        mp.setattr(module, name, fake(getattr(module, name)))
        runs = [rt.compile_function(fn) for fn in fns]
        again = [rt.compile_function(fn) for fn in fns]  # cached in memory: no new compile
        rt.wait_optimized()  # (the optimized objects are stored, or not, in the background)
    ours = [w for w in caught if "gradjit cache" in str(w.message)]
    assert len(ours) == 1, [str(w.message) for w in caught]
    assert issubclass(ours[0].category, RuntimeWarning)
    assert reason in str(ours[0].message) and "in memory only" in str(ours[0].message)
    assert jit.STATS["compiles"] == before + 3 and again == runs
    for run, body in zip(runs, bodies):
        np.testing.assert_allclose(run([X])[0], body(X), rtol=1e-14)
    assert cache.entries() == []  # nothing written, no temporary files left behind


# ---- resident memory over compile/call cycles ------------------------------------------------

def test_a_transform_keeps_at_most_the_bound_of_signatures_lru(cache_dir, monkeypatch):
    """Each staged signature holds its compiled runner: a transform called with ever new shapes
    must let the stalest go (else the runtime's bounded cache is defeated), and the evicted
    compiled code is freed."""
    import gc
    import weakref

    from gradjit.tracer import transforms

    monkeypatch.setattr(transforms, "MAX_SIGNATURES", 3)
    monkeypatch.setattr(rt, "_MEMORY_MAX", 3)
    f = gradjit.jit(lambda x: np.cos(x) * 2.0 + x)
    xs = [np.linspace(0, 1, n) for n in range(2, 7)]
    runners = []
    for x in xs[:3]:
        np.testing.assert_allclose(f(x), np.cos(x) * 2.0 + x, rtol=1e-14)
        runners.append(weakref.ref(f.cache[f._last_key].runner()))
    f._staged((xs[0],))  # a use through the general path makes it the most recent (hot-path
    # calls skip the bookkeeping; after an eviction every signature passes there once again)
    for x in xs[3:]:
        np.testing.assert_allclose(f(x), np.cos(x) * 2.0 + x, rtol=1e-14)
    assert len(f.cache) == 3 and len(rt._memory) <= 3
    assert [k[1][0].type.shape for k in f.cache] == [(2,), (5,), (6,)]
    gc.collect()
    assert runners[0]() is not None and runners[1]() is None  # evicted, and freed
    assert runners[2]() is not None  # evicted here, still in the runtime's LRU (4, 5, 6) ...
    rt._memory.clear()
    gc.collect()
    assert runners[2]() is None and runners[0]() is not None  # ... until it leaves that too
    np.testing.assert_allclose(f(xs[1]), np.cos(xs[1]) * 2.0 + xs[1], rtol=1e-14)  # re-staged


def test_compile_call_cycles_keep_rss_bounded(tmp_path):
    """scripts/rss_probe.py scaled down: 40 shapes, a memory cache of 4, so each of the 300
    calls after the warm-up evicts, re-stages and reloads a function from the disk cache, and
    engines shared by 4 objects at most, so reloads keep retiring engines. An engine kept alive
    per reload costs ~60 KB (measured), ~9 MB over the second half; the bound leaves room for
    allocator noise (measured: < 0.2 MB)."""
    env = dict(os.environ, PYTHONPATH=ROOT, GRADJIT_OBJECTS_PER_ENGINE="4")
    env.pop("GRADJIT_MEMORY_CACHE", None)
    out = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "rss_probe.py"),
                          "--shapes", "40", "--calls", "340", "--memory-cache", "4", "--json"],
                         env=env, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["compiles"] == r["compiles_warm"] == 40  # after the warm-up: disk loads only
    assert r["loads"] - r["loads_mid"] >= 150  # every call reloaded: the bounds evict
    assert r["memory_cache_entries"] <= 4 and r["transform_signatures"] <= 4
    assert r["rss_end_mb"] - r["rss_mid_mb"] < 3.0, r
