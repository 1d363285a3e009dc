"""Writing a regenerated section back into README.md (shared by the readme_* scripts)."""

from __future__ import annotations

import os

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def update(rewrite, section: str, who: str) -> int:
    """README.md rewritten by `rewrite(text, section)`, written only when it changed."""
    with open(README) as f:
        text = f.read()
    new = rewrite(text, section)
    if new != text:
        with open(README, "w") as f:
            f.write(new)
    print(f"{who}: README.md {'updated' if new != text else 'already up to date'}")
    return 0


def between_markers(text: str, begin: str, end: str, body: str) -> str | None:
    """text with what lies between the markers replaced by body, or None without markers."""
    if begin not in text or end not in text:
        return None
    head, rest = text.split(begin, 1)
    return head + f"{begin}\n{body}{end}" + rest.split(end, 1)[1]
