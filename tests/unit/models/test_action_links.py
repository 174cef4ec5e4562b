from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from models.action_links import ActionLink, LinkError, sign, verify

AT = datetime(2026, 4, 1, 9, tzinfo=UTC)
KEY = b"workers-only"


def link(**changes: object) -> ActionLink:
    fields = {
        "action": "acknowledge",
        "subject": "HP-200|W1|stockout_risk",
        "material_id": "HP-200",
        "by": "li.wei",
        "expires": AT + timedelta(days=7),
    }
    return ActionLink(**{**fields, **changes})


def test_a_signed_link_verifies_to_what_was_signed_until_it_expires():
    token = sign(link(action="approve", subject="PR-1"), KEY)
    assert verify(token, KEY, AT + timedelta(days=6, hours=23)) == link(
        action="approve", subject="PR-1"
    )
    with pytest.raises(LinkError, match="expired at 2026-04-08T09:00:00"):
        verify(token, KEY, AT + timedelta(days=7))


def test_a_link_signed_with_another_key_is_refused():
    with pytest.raises(LinkError, match="signature does not match"):
        verify(sign(link(), b"other"), KEY, AT)


def test_a_token_without_signature_is_refused_with_a_reason():
    with pytest.raises(LinkError, match="no signature"):
        verify("abc", KEY, AT)


@given(position=st.integers(min_value=0), replacement=st.sampled_from("AbZz09-_."))
def test_changing_any_character_of_a_token_makes_it_refused(position: int, replacement: str):
    token = sign(link(), KEY)
    index = position % len(token)
    altered = token[:index] + replacement + token[index + 1 :]
    assume(altered != token)
    with pytest.raises(LinkError):
        verify(altered, KEY, AT)


@given(
    subject=st.text(min_size=1, max_size=60), by=st.from_regex(r"[a-z][a-z.]{0,20}", fullmatch=True)
)
def test_any_subject_and_person_survive_the_round_trip(subject: str, by: str):
    original = link(subject=subject, by=by)
    assert verify(sign(original, KEY), KEY, AT) == original
