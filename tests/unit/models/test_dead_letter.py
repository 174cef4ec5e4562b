"""Dead letters fit the dead-letter topic: too large a record keeps its head, size and hash."""

import hashlib
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from models.events import DeadLetter, SourcePosition, encode

SOURCE = SourcePosition(topic="erp.stock-movements", partition=2, offset=417)
AT = datetime(2026, 11, 29, 12, tzinfo=UTC)
LIMIT = 1_000_000 - 1_024


def letter(value: bytes | None, key: bytes | None = b"M-1", max_bytes: int = LIMIT) -> DeadLetter:
    return DeadLetter.of_record("value: too big", SOURCE, AT, key, value, max_bytes)


def test_a_record_that_fits_is_kept_whole_with_its_size_and_hash() -> None:
    kept = letter(b'{"event_id": "x"}')

    assert kept.value == b'{"event_id": "x"}'
    assert kept.value_size == 17
    assert kept.value_sha256 == hashlib.sha256(b'{"event_id": "x"}').hexdigest()
    assert not kept.truncated
    assert kept.reason == "value: too big"


def test_a_value_of_almost_a_mebibyte_is_cut_to_fit_and_says_so() -> None:
    value = bytes(range(256)) * 3_500  # 896,000 bytes: 1.19 MB once base64 in JSON

    cut = letter(value)
    encoded = encode(cut)

    assert len(encoded) <= LIMIT
    assert cut.truncated
    assert value.startswith(cut.value) and len(cut.value) > 700_000
    assert cut.value_size == len(value)
    assert cut.value_sha256 == hashlib.sha256(value).hexdigest()
    assert cut.source == SOURCE
    assert cut.reason == (
        f"value: too big [dead letter keeps the first {len(cut.value)} of {len(value)} "
        "value bytes; see value_sha256]"
    )
    assert DeadLetter.model_validate_json(encoded) == cut


def test_a_huge_key_is_cut_too() -> None:
    cut = letter(b"{}", key=b"k" * 2_000_000)

    assert len(encode(cut)) <= LIMIT
    assert cut.key == b"k" * 1_024 and cut.value == b"{}"


@given(
    st.integers(min_value=0, max_value=300_000),
    st.integers(min_value=0, max_value=5_000),
    st.integers(min_value=3_000, max_value=200_000),
)
def test_every_letter_fits_its_limit_and_keeps_a_prefix(size: int, key_size: int, limit: int):
    value = b"v" * size
    kept = letter(value, key=b"k" * key_size, max_bytes=limit)

    assert len(encode(kept)) <= limit
    assert value.startswith(kept.value)
    assert kept.truncated == (kept.value != value or kept.key != b"k" * key_size)
