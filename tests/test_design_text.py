"""The rounding rule of printed design numbers, and the notes in plain words."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hlhbayes.design import text
from hlhbayes.design.em import MixtureFit
from hlhbayes.design.ess import ess
from hlhbayes.design.mixture import BetaMixture

AS_MAP = BetaMixture.from_components(
    [(0.6167463, 19.1916387, 57.7779318), (0.3832537, 3.5278745, 9.3735980)]
)


# ---------------------------------------------------------------------- the rounding rule
@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (36.817272, "36.8"),
        (26.02, "26.0"),
        (7.2, "7.20"),
        (0.08423297, "0.0842"),
        (1.0, "1.00"),
        (4250.8077, "4251"),
        (-8489.6154, "-8490"),
        (9.996, "10.0"),
        (999.6, "1000"),
        (0.000123456, "0.000123"),
        (0.0000123456, "1.23e-05"),
        (0.0, "0"),
        (None, "-"),
        (math.inf, "inf"),
    ],
)
def test_number_keeps_three_significant_digits(value, shown):
    assert text.number(value) == shown


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.floats(1e-4, 1e9) | st.floats(-1e9, -1e-4))
def test_number_is_within_half_a_unit_of_its_third_digit(x):
    shown = text.number(x)
    exponent = math.floor(math.log10(abs(float(shown))))
    unit = 10.0 ** (exponent - 2) if exponent < 2 else 1.0  # the whole part is never rounded
    assert abs(float(shown) - x) <= 0.5 * unit * (1 + 1e-9)
    digits = shown.lstrip("-").replace(".", "").lstrip("0")
    assert len(digits) >= 3 or float(shown) == 0


@pytest.mark.parametrize(
    ("value", "shown"),
    [(1.0, "1"), (12.1406006, "12.1"), (1.4831234, "1.48"), (0.5, "0.5"), (100.0, "100")],
)
def test_compact_drops_trailing_zeros(value, shown):
    assert text.compact(value) == shown


def test_rates_and_probabilities_have_three_decimals():
    assert text.rate(0.25857963) == "0.259"
    assert text.rate(-0.3) == "-0.300"
    assert text.rate(-0.0001) == "0.000"  # no negative zero
    assert text.probability(0.99132327) == "0.991"
    assert text.probability(0.0004) == "<0.001"
    assert text.probability(0.9996) == ">0.999"
    assert text.probability(0.0) == "0.000" and text.probability(1.0) == "1.000"
    assert text.probability(None) == "-"


@pytest.mark.parametrize(
    ("value", "cutoff", "shown"),
    [
        (0.99132327, 0.95, "0.991"),
        (0.95004, 0.95, "0.95004"),
        (0.94996, 0.95, "0.94996"),
        (0.95, 0.95, "0.9500000"),
        (0.9502, 0.8, "0.950"),
    ],
)
def test_a_probability_against_its_cutoff_shows_which_side(value, cutoff, shown):
    assert text.probability_against(value, cutoff) == shown


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_exact_reads_back_as_the_same_float(x):
    assert float(text.exact(x)) == x


def test_describe_prior():
    assert text.describe_prior(AS_MAP) == "2-component beta mixture, mean 0.259, sd 0.0842"
    assert text.describe_prior(BetaMixture.beta(0.5, 1)) == "Beta(0.5, 1), mean 0.333, sd 0.298"


def test_ess_line_adds_the_logit_elir_only_where_it_differs():
    assert text.ess_line(ess(AS_MAP)) == "ESS: ELIR 36.8, moment 26.0, Morita 62.7"
    robust = ess(AS_MAP.robustify(0.2))
    assert text.ess_line(robust) == "ESS: ELIR 25.7, moment 5.72, Morita 53.5, ELIR (logit) 26.1"


# ---------------------------------------------------------------------- notes
def test_note_lines_wrap_without_breaking_a_beta():
    note = "word " * 18 + "component 1 (Beta(123.45, 678.9)) has p = 0 and a + b = 13 " * 3
    wrapped = text.note_lines(note)
    lines = wrapped.split("\n")
    assert lines[0].startswith("note: ") and all(x.startswith("      ") for x in lines[1:])
    assert all(len(x) <= text.NOTE_WIDTH for x in lines)
    assert " ".join(x.strip() for x in lines).removeprefix("note: ") == note.strip()
    for piece in ("Beta(123.45, 678.9)", "p = 0", "a + b = 13"):
        assert wrapped.count(piece) == 3


def _one_note(mix: BetaMixture) -> str:
    notes = [n for n in text.ess_notes(mix) if n.startswith("ELIR")]
    assert len(notes) == 1
    return notes[0]


ELIR_IS = "it averages the curvature of the prior's log density over the prior"


def test_no_notes_for_a_prior_with_every_shape_above_one():
    assert text.ess_notes(AS_MAP) == []


def test_note_for_a_shape_equal_to_one_says_what_why_and_instead():
    note = _one_note(BetaMixture.beta(12, 1))
    assert note.startswith("ELIR is degenerate here: " + ELIR_IS)
    assert "credits component 1 (Beta(12, 1)) with 1 patient instead of a + b = 13" in note
    assert "Quote the ELIR on the logit scale, 13.0" in note
    assert "the moment ESS, 13.0, conservative" in note


def test_note_for_a_negative_elir():
    mix = BetaMixture.from_components([(0.2, 45.5, 1), (0.8, 1, 1)])
    values = ess(mix)
    assert values["elir"] < 0 < values["elir_logit"]
    note = _one_note(mix)
    assert note.startswith(f"ELIR is negative ({text.number(values['elir'])}), which no sample")
    assert "components 1 and 2 (Beta(45.5, 1), Beta(1, 1)) with 1 and 0 patients" in note
    assert "instead of a + b = 46.5 and 2" in note
    assert f"logit scale, {text.number(values['elir_logit'])}" in note


def test_note_for_a_shape_below_one():
    note = _one_note(BetaMixture.beta(0.5, 1))
    assert note.startswith("ELIR is undefined here: " + ELIR_IS)
    assert "component 1 (Beta(0.5, 1)) has a shape below 1" in note
    assert "rises without limit at p = 0," in note
    assert "Quote the ELIR on the logit scale, 1.50" in note


def test_note_when_the_logit_elir_is_undefined_too():
    note = _one_note(BetaMixture.from_components([(0.5, 0.5, 5), (0.5, 0.8, 5)]))
    assert "The ELIR on the logit scale is undefined too: components 1 and 2" in note
    assert note.endswith("Quote the moment ESS, 5.47, conservative.")


def test_note_for_an_undefined_morita_ess():
    notes = text.ess_notes(BetaMixture.beta(12, 1))
    assert notes[-1].startswith(
        "Morita's ESS is undefined: the prior's density is highest at p = 1"
    )


def _fit(mix: BetaMixture, converged: bool = True, lower: float = 1.0) -> MixtureFit:
    return MixtureFit(mix, -1.0, 100, 12, converged, lower)


def test_fit_notes_name_the_shapes_at_the_bound():
    mix = BetaMixture.from_components([(0.9, 12.14, 1.48), (0.1, 2.46, 1.0)])
    (note,) = text.fit_notes(_fit(mix))
    assert note.startswith("component 2 has b = 1: the lower bound of the fit")
    assert "rising without limit at p = 1" in note and "--unconstrained" in note
    both = BetaMixture.from_components([(0.5, 1.0, 3.0), (0.5, 1.0, 1.0)])
    (note,) = text.fit_notes(_fit(both))
    assert note.startswith("component 1 has a = 1 and component 2 has a = 1 and b = 1: ")
    assert "at p = 0 and p = 1" in note
    assert text.fit_notes(_fit(mix, lower=0.0)) == []  # unconstrained: no bound


def test_fit_notes_say_when_the_em_did_not_converge():
    (note,) = text.fit_notes(_fit(AS_MAP, converged=False))
    assert note.startswith("the EM fit of 2 components stopped after 12 iterations")


def test_every_rounding_helper_handles_numpy_scalars():
    assert text.number(np.float64(36.817)) == "36.8"
    assert text.probability(np.float64(0.5)) == "0.500"
