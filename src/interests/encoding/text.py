"""The text that is encoded for an item, and the content hash that keys the encoding cache.

The same text is also built in Spark SQL by the pipeline, so the rule here is deliberately
simple enough to express there exactly::

    concat_ws('\\n',
              nullif(trim(title), ''),
              nullif(trim(body), ''),
              nullif(array_join(tags, ', '), ''))

``concat_ws`` skips NULLs, which is what ``if part`` does below. One caveat: Python's
``str.strip()`` removes all Unicode whitespace, Spark's ``trim`` only the space character.
Spark code that must match on texts with tabs or newlines at the ends should trim with
``regexp_replace(x, '(?U)^\\s+|\\s+$', '')`` (Java's Unicode ``\\s``; it differs from Python
only on the control characters U+001C..U+001F), or call :func:`item_text` in a UDF.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

ITEM_TEXT_SEPARATOR = "\n"
"""Between title, body and the tag list."""

TAG_SEPARATOR = ", "
"""Between tags."""


def item_text(title: str | None, body: str | None, tags: Iterable[str] | None) -> str:
    """Join title, body and tags into the one text encoded for an item.

    ``"\\n".join(part for part in [title.strip(), body.strip(), ", ".join(tags)] if part)``,
    with ``None`` read as ``""`` (title, body) or ``[]`` (tags), and ``None`` or blank tags
    skipped (as the cleaning job drops them). Nothing else is normalized:
    inner whitespace and case are kept, tags are neither stripped nor sorted, so the Spark
    ``concat_ws`` version gives byte-for-byte the same string (and the same :func:`text_hash`).
    """
    title_part = (title or "").strip()
    body_part = (body or "").strip()
    tag_list = tags if tags is not None else ()
    tags_part = TAG_SEPARATOR.join(tag for tag in tag_list if tag is not None and tag.strip())
    return ITEM_TEXT_SEPARATOR.join(part for part in (title_part, body_part, tags_part) if part)


def text_hash(text: str) -> str:
    """SHA-256 hex digest of the UTF-8 bytes of ``text``: the key of the encoding cache."""
    if not isinstance(text, str):
        raise TypeError(f"text_hash expects a str, got {type(text).__name__}")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
