"""The on-disk object cache: one file per compiled function, verified before use.

Directory: `$GRADJIT_CACHE_DIR`, else `$XDG_CACHE_HOME/gradjit`, else `~/.cache/gradjit`,
created with mode 0700. An entry is `MAGIC | sha256(payload) | payload`, payload = a JSON
header (length-prefixed) plus the object code. Writes go to a temporary file in the same
directory and are renamed into place, so readers never see half an entry and two writers of
the same key both succeed. A damaged entry fails the hash check, is reported and recompiled;
it is never executed. The header also records the gradjit version, target triple and CPU that
built the entry, and an entry made by another build or machine (a copied or shared directory,
or a colliding key) is refused the same way. An unwritable directory degrades to in-memory
caching with one warning.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
import tempfile
import warnings

log = logging.getLogger("gradjit.runtime")
MAGIC = b"GJOBJ1\n"
_warned: set[str] = set()


def cache_dir() -> str:
    env = os.environ.get("GRADJIT_CACHE_DIR")
    if env:
        return env
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "gradjit")


def _untrusted(folder: str) -> str | None:
    """Why code must not be loaded from (or stored in) folder, or None when it is the user's own
    and nobody else can write there (a missing folder is fine: we create it 0700)."""
    try:
        st = os.stat(folder)
    except OSError:
        return None
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return f"it is owned by another user (uid {st.st_uid})"
    if st.st_mode & 0o022:
        return f"others can write to it (mode {oct(st.st_mode & 0o777)})"
    return None


def _refused(key: str, root: str | None = None) -> bool:
    """True (with one warning per directory) when the cache directory is not trustworthy."""
    root = root or cache_dir()
    for folder in (root, os.path.dirname(_path(key, root))):
        reason = _untrusted(folder)
        if reason:
            if folder not in _warned:
                _warned.add(folder)
                warnings.warn(f"gradjit cache: refusing {folder}: {reason}; compiled code is "
                              "cached in memory only (hint: use a directory only you can "
                              "write, e.g. unset GRADJIT_CACHE_DIR)", RuntimeWarning,
                              stacklevel=4)
            return True
    return False


def _identity() -> dict:
    """Who built an entry: only this gradjit on this target and CPU may run its code."""
    import gradjit

    from . import jit

    triple, cpu = jit.target_id().split("|")[:2]
    return {"gradjit": gradjit.__version__, "triple": triple, "cpu": cpu}


def _path(key: str, root: str | None = None) -> str:
    return os.path.join(root or cache_dir(), key[:2], key + ".o")


def load(key: str) -> tuple[dict, bytes] | None:
    """(header, object code) of a verified entry, or None (missing, damaged or untrusted)."""
    if _refused(key):
        return None
    try:
        with open(_path(key), "rb") as f:
            data = f.read()
    except OSError:
        return None
    try:
        if not data.startswith(MAGIC):
            raise ValueError("bad magic")
        digest, payload = data[len(MAGIC):len(MAGIC) + 32], data[len(MAGIC) + 32:]
        if hashlib.sha256(payload).digest() != digest:
            raise ValueError("content hash mismatch")
        (n,) = struct.unpack("<I", payload[:4])
        header = json.loads(payload[4:4 + n])
        if header.get("key") != key:
            raise ValueError("key mismatch")
        for field, ours in _identity().items():
            if header.get(field) != ours:
                raise ValueError(f"built for {field} {header.get(field)!r}, this is {ours!r}")
        return header, payload[4 + n:]
    except (ValueError, struct.error, UnicodeDecodeError) as e:
        log.warning("gradjit cache: ignoring damaged entry %s (%s); recompiling", _path(key), e)
        return None


def store(key: str, header: dict, obj: bytes, root: str | None = None) -> bool:
    """Atomically write an entry (into `root`, by default the cache directory now); False (with
    one warning per directory) when impossible."""
    root = root or cache_dir()
    head = json.dumps(dict(header, key=key, **_identity()), sort_keys=True).encode()
    payload = struct.pack("<I", len(head)) + head + obj
    path = _path(key, root)
    if _refused(key, root):
        return False
    try:
        _make_dirs(root, os.path.dirname(path))
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(MAGIC + hashlib.sha256(payload).digest() + payload)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        return True
    except OSError as e:
        where = root
        if where not in _warned:
            _warned.add(where)
            warnings.warn(f"gradjit cache: cannot write to {where} ({e.strerror or e}); "
                          "compiled code is cached in memory only", RuntimeWarning,
                          stacklevel=4)
        return False


def _make_dirs(root: str, sub: str) -> None:
    if not os.path.isdir(root):
        os.makedirs(root, mode=0o700, exist_ok=True)
        os.chmod(root, 0o700)  # makedirs' mode is filtered by the umask
    os.makedirs(sub, mode=0o700, exist_ok=True)


def entries() -> list[str]:
    """Paths of every entry (and leftover temporary file) in the cache directory."""
    root = cache_dir()
    found = []
    for sub in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        folder = os.path.join(root, sub)
        if len(sub) == 2 and os.path.isdir(folder):  # only the `<2 hex>/` shards we write
            found += [os.path.join(folder, n) for n in sorted(os.listdir(folder))
                      if n.endswith(".o") or n.startswith(".tmp-")]
    return found


def clear() -> tuple[int, int]:
    """Delete every entry (nothing else in the directory); (entries removed, bytes freed)."""
    count = freed = 0
    for path in entries():
        try:
            size = os.path.getsize(path)
            os.unlink(path)
        except OSError:
            continue
        count, freed = count + 1, freed + size
        try:
            os.rmdir(os.path.dirname(path))  # the shard, once it is empty
        except OSError:
            pass
    return count, freed
