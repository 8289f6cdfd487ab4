"""item_text and text_hash: the exact text the pipeline encodes and the key of the cache."""

from __future__ import annotations

import hashlib

import pytest

from interests.encoding.text import item_text, text_hash


@pytest.mark.parametrize(
    ("title", "body", "tags", "expected"),
    [
        ("Bread", "Flour, water.", ["baking", "home"], "Bread\nFlour, water.\nbaking, home"),
        ("  Sourdough \t", "\n body  ", [], "Sourdough\nbody"),
        ("Title", None, None, "Title"),
        (None, "Only a body", ["one"], "Only a body\none"),
        (None, None, ["a", "b"], "a, b"),
        (None, None, None, ""),
        ("", "   ", [], ""),
        ("Two  spaces", "Line one\nline two", [], "Two  spaces\nLine one\nline two"),
        ("Case Kept", "", [" spaced tag ", "UPPER"], "Case Kept\n spaced tag , UPPER"),
        ("t", "b", ["x", None, "y"], "t\nb\nx, y"),
        ("t", "b", [""], "t\nb"),
        ("t", "b", ["", "a", " \u00a0"], "t\nb\na"),
    ],
)
def test_item_text_joins_title_body_and_tags(title, body, tags, expected):
    assert item_text(title, body, tags) == expected


def test_item_text_matches_the_documented_expression():
    title, body, tags = " A title ", "A body\t", ["x", "y"]
    documented = "\n".join(part for part in [title.strip(), body.strip(), ", ".join(tags)] if part)
    assert item_text(title, body, tags) == documented


def test_item_text_accepts_any_iterable_of_tags():
    assert item_text("t", "", ("a", "b")) == item_text("t", "", ["a", "b"]) == "t\na, b"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    ],
)
def test_text_hash_is_sha256_of_utf8(text, expected):
    assert text_hash(text) == expected


def test_text_hash_of_non_ascii_text_uses_utf8_bytes():
    text = "café ☕ 日本"
    assert text_hash(text) == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert text_hash(text) != text_hash("cafe ☕ 日本")


def test_text_hash_refuses_non_strings():
    with pytest.raises(TypeError, match="bytes"):
        text_hash(b"abc")  # type: ignore[arg-type]
