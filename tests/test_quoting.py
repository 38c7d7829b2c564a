"""Values quoted in messages: short, one line, and cheap whatever they are."""

from __future__ import annotations

from hlhbayes.quoting import QUOTE_LIMIT, cut_line, quoted


def test_short_values_are_their_repr() -> None:
    assert quoted("elderly") == "'elderly'"
    assert quoted(5) == "5"
    assert quoted(10**40) == str(10**40)
    assert quoted(None) == "None"


def test_long_text_is_cut_and_says_how_long_it_was() -> None:
    text = quoted("x" * 5000)
    assert len(text) < QUOTE_LIMIT + 30
    assert text.endswith("… (5000 characters)")
    assert quoted("a\nb\x00" * 100).count("\n") == 0


def test_huge_integers_and_shared_structures_are_not_expanded() -> None:
    assert quoted(10**6000) == "an integer of about 6001 digits"
    laughs: object = ["lol"] * 9
    for _ in range(8):
        laughs = [laughs] * 9  # 9^9 strings if expanded
    assert len(quoted(laughs)) <= QUOTE_LIMIT
    assert len(quoted({"k" * 1000: list(range(10**5))})) <= QUOTE_LIMIT


def test_foreign_messages_are_one_capped_line() -> None:
    assert cut_line("expected <block end>,\n  but found '-'") == (
        "expected <block end>, but found '-'"
    )
    assert len(cut_line("y" * 1000)) == 2 * QUOTE_LIMIT
