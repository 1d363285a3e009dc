"""Whether eager ops record graph nodes: `no_grad`, `enable_grad`, `set_grad_enabled`.

Each is a context manager and a decorator, as in PyTorch; `set_grad_enabled(False)` called
as a plain function also switches recording off globally (the seed tutorials do this).
"""

from __future__ import annotations

import functools

_enabled = [True]


def is_grad_enabled() -> bool:
    return _enabled[0]


class _GradMode:
    """Sets grad mode on entry and restores the previous mode on exit."""

    mode = True

    def __enter__(self):
        self.prev = _enabled[0]
        _enabled[0] = self.mode
        return self

    def __exit__(self, *exc):
        _enabled[0] = self.prev
        return False

    def _fresh(self) -> _GradMode:
        return type(self)()

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with self._fresh():
                return fn(*args, **kwargs)

        return wrapped


class no_grad(_GradMode):
    mode = False


class enable_grad(_GradMode):
    mode = True


class set_grad_enabled(_GradMode):
    """`set_grad_enabled(mode)`: takes effect at once, and undoes itself when used as `with`."""

    def __init__(self, mode: bool):
        self.prev = _enabled[0]
        self.mode = bool(mode)
        _enabled[0] = self.mode

    def __enter__(self):
        return self

    def _fresh(self) -> _GradMode:
        return set_grad_enabled(self.mode)

    def __call__(self, fn):
        _enabled[0] = self.prev  # used as a decorator: only the calls change the mode
        return super().__call__(fn)


class inference_mode(no_grad):
    def __init__(self, mode: bool = True):
        self.mode = not mode

    def _fresh(self) -> _GradMode:
        return inference_mode(not self.mode)
