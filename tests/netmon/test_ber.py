"""BER codec: round trips, the encodings SNMP agents really send, and malformed input."""

from __future__ import annotations

import contextlib
import copy
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netmon import ber

UNSIGNED_MAX = {ber.COUNTER32: 2**32 - 1, ber.GAUGE32: 2**32 - 1, ber.TIMETICKS: 2**32 - 1,
                ber.COUNTER64: 2**64 - 1}

arc = st.one_of(st.integers(0, 127), st.integers(128, 2**28 + 5), st.integers(0, 2**64))
oids = st.one_of(
    st.tuples(st.integers(0, 1), st.integers(0, 39)),
    st.tuples(st.just(2), st.integers(0, 2**32)),  # first arc 2: second arc may be >= 40
).flatmap(lambda head: st.lists(arc, max_size=20).map(lambda rest: ".".join(
    map(str, (*head, *rest)))))


def roundtrip(varbinds: list[tuple[str, int, object]]) -> list[tuple[str, object]]:
    packet = ber.encode_response(b"public", 1234, varbinds)  # type: ignore[arg-type]
    msg = ber.decode_message(packet)
    assert (msg.version, msg.community, msg.pdu_type, msg.request_id) == (
        ber.VERSION_2C, b"public", ber.RESPONSE, 1234)
    return [(ber.oid_str(o), v) for o, v in msg.varbinds]


@given(st.integers(-(2**31), 2**31 - 1))
def test_integer_round_trip(value: int) -> None:
    assert roundtrip([("1.3.6.1", ber.INTEGER, value)]) == [("1.3.6.1", value)]


@given(st.sampled_from(sorted(UNSIGNED_MAX)), st.data())
def test_unsigned_round_trip(tag: int, data: st.DataObject) -> None:
    value = data.draw(st.one_of(st.integers(0, UNSIGNED_MAX[tag]),
                                st.just(UNSIGNED_MAX[tag]), st.just(0)))
    assert roundtrip([("1.3.6.1.2", tag, value)]) == [("1.3.6.1.2", value)]


def test_counter64_high_bit_has_leading_zero_and_both_forms_decode() -> None:
    enc = ber.encode_integer(2**64 - 1, ber.COUNTER64)
    assert enc == b"\x46\x09\x00" + b"\xff" * 8
    # Correct agents send 9 bytes (00 ff..ff); sloppy ones 8 bytes with the high bit set.
    for content in (b"\x00" + b"\xff" * 8, b"\xff" * 8):
        assert ber.decode_value(ber.COUNTER64, content, 0, len(content)) == 2**64 - 1
    assert ber.encode_integer(2**32 - 1, ber.COUNTER32) == b"\x41\x05\x00\xff\xff\xff\xff"
    assert ber.encode_integer(-128) == b"\x02\x01\x80"
    assert ber.encode_integer(128) == b"\x02\x02\x00\x80"
    assert ber.encode_integer(0) == b"\x02\x01\x00"
    with pytest.raises(ValueError, match="out of range"):
        ber.encode_integer(2**64, ber.COUNTER64)


@given(oids)
def test_oid_round_trip(oid: str) -> None:
    assert ber.decode_oid_content(ber.encode_oid_content(oid)) == oid
    assert roundtrip([(oid, ber.OBJECT_IDENTIFIER, oid)]) == [(oid, oid)]


@pytest.mark.parametrize(
    ("oid", "content"),
    [
        ("1.3.6.1.2.1", bytes([0x2B, 6, 1, 2, 1])),
        ("1.3.6.1.4.1.2011", bytes([0x2B, 6, 1, 4, 1, 0x8F, 0x5B])),
        ("1.3.128", bytes([0x2B, 0x81, 0x00])),
        ("1.3.268435456", bytes([0x2B, 0x81, 0x80, 0x80, 0x80, 0x00])),
        ("2.999.3", bytes([0x88, 0x37, 3])),  # first arc 2, second >= 40: 2*40+999 = 1079
        ("0.39", bytes([39])),
    ],
)
def test_oid_known_encodings(oid: str, content: bytes) -> None:
    assert ber.encode_oid_content(oid) == content
    assert ber.decode_oid_content(content) == oid


@given(oids, oids)
def test_oid_order_matches_numeric_order(a: str, b: str) -> None:
    ka = tuple(map(int, a.split(".")))
    kb = tuple(map(int, b.split(".")))
    assert ber.oid_gt(ber.encode_oid_content(a), ber.encode_oid_content(b)) == (ka > kb)


def test_oid_order_multibyte_arcs_of_different_length() -> None:
    a, b = ber.encode_oid_content("1.3.16383"), ber.encode_oid_content("1.3.16384")
    assert a > b  # bytewise order is wrong here...
    assert ber.oid_gt(b, a) and not ber.oid_gt(a, b)  # ...the numeric order is not


@pytest.mark.parametrize("size", [0, 1, 127, 128, 255, 256, 1000, 70000])
def test_octet_string_long_form_lengths(size: int) -> None:
    value = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    assert roundtrip([("1.3.6.1.4", ber.OCTET_STRING, value)]) == [("1.3.6.1.4", value)]
    if size >= 128:
        header = ber.encode_tlv(ber.OCTET_STRING, value)[:4]
        assert header[1] & 0x80  # long form


def test_other_value_types() -> None:
    vbs = [
        ("1.3.6.1.1", ber.IP_ADDRESS, "192.0.2.255"),
        ("1.3.6.1.2", ber.NULL, None),
        ("1.3.6.1.3", ber.NO_SUCH_OBJECT_TAG, None),
        ("1.3.6.1.4", ber.NO_SUCH_INSTANCE_TAG, None),
        ("1.3.6.1.5", ber.END_OF_MIB_VIEW_TAG, None),
        ("1.3.6.1.6", ber.OPAQUE, b"\x9f\x78\x04"),
    ]
    assert roundtrip(vbs) == [
        ("1.3.6.1.1", "192.0.2.255"),
        ("1.3.6.1.2", None),
        ("1.3.6.1.3", ber.NO_SUCH_OBJECT),
        ("1.3.6.1.4", ber.NO_SUCH_INSTANCE),
        ("1.3.6.1.5", ber.END_OF_MIB_VIEW),
        ("1.3.6.1.6", b"\x9f\x78\x04"),
    ]


def test_nosuch_singletons_survive_copy_and_pickle() -> None:
    for v in (ber.NO_SUCH_OBJECT, ber.NO_SUCH_INSTANCE, ber.END_OF_MIB_VIEW):
        assert pickle.loads(pickle.dumps(v)) is v
        assert copy.deepcopy(v) is v


def test_request_encoding_getbulk_fields() -> None:
    packet = ber.encode_request(b"c", ber.GET_BULK_REQUEST, 77,
                                [ber.encode_oid("1.3.6.1.2.1.1.3"), ber.encode_oid("1.3.6.1")],
                                non_repeaters=1, max_repetitions=25)
    msg = ber.decode_message(packet)
    # In a GetBulk PDU the error-status/-index slots carry non-repeaters/max-repetitions.
    assert (msg.pdu_type, msg.request_id, msg.error_status, msg.error_index) == (
        ber.GET_BULK_REQUEST, 77, 1, 25)
    assert [(ber.oid_str(o), v) for o, v in msg.varbinds] == [("1.3.6.1.2.1.1.3", None),
                                                               ("1.3.6.1", None)]


GOOD = ber.encode_response(b"public", 9, [("1.3.6.1.2.1.1.1.0", ber.OCTET_STRING, b"x" * 200),
                                          ("1.3.6.1.2.1.1.3.0", ber.TIMETICKS, 12345)])


@pytest.mark.parametrize("cut", range(0, len(GOOD), 7))
def test_truncated_input_raises_ber_error(cut: int) -> None:
    with pytest.raises(ber.BerError):
        ber.decode_message(GOOD[:cut])


@pytest.mark.parametrize(
    "packet",
    [
        b"",
        b"\x04\x00",  # not a SEQUENCE
        b"\x30\x80\x02\x01\x01",  # indefinite length
        b"\x30\x85\x01\x00\x00\x00\x00",  # 5 length octets
        b"\x30\x03\x02\x01\x01",  # no community
        b"\x30\x08\x02\x01\x01\x04\x00\x02\x01\x00",  # an INTEGER where the PDU should be
        bytes.fromhex("3015020101040170a20e0201010201000201003003300106"),  # varbind w/o value
    ],
)
def test_malformed_messages(packet: bytes) -> None:
    with pytest.raises(ber.BerError):
        ber.decode_message(packet)


def test_malformed_values() -> None:
    with pytest.raises(ber.BerError):
        ber.decode_oid_content(b"")
    with pytest.raises(ber.BerError):
        ber.decode_oid_content(b"\x2b\x86")  # last sub-identifier unfinished
    with pytest.raises(ber.BerError):
        ber.decode_value(ber.IP_ADDRESS, b"\x01\x02\x03", 0, 3)
    with pytest.raises(ber.BerError):
        ber.decode_value(ber.INTEGER, b"", 0, 0)
    with pytest.raises(ValueError):
        ber.encode_oid_content("1.40.1")  # first arc 1 allows a second arc < 40 only
    with pytest.raises(ValueError):
        ber.encode_oid_content("1.3.x")
    assert issubclass(ber.BerError, ValueError)


@given(st.binary(max_size=300))
def test_random_bytes_never_raise_anything_but_ber_error(data: bytes) -> None:
    with contextlib.suppress(ber.BerError):
        ber.decode_message(data)


@given(st.lists(st.tuples(st.integers(0, len(GOOD) - 1), st.integers(0, 255)), min_size=1,
                max_size=4))
def test_corrupted_answers_never_raise_anything_but_ber_error(
        flips: list[tuple[int, int]]) -> None:
    data = bytearray(GOOD)
    for pos, byte in flips:
        data[pos] = byte
    with contextlib.suppress(ber.BerError):
        ber.decode_message(bytes(data))
