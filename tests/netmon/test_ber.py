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

# RFC 2578 3.5: every sub-identifier is 0..2^32-1 (the decoder refuses more).
arc = st.one_of(st.integers(0, 127), st.integers(128, 2**28 + 5), st.integers(0, 2**32 - 1))
oids = st.one_of(
    st.tuples(st.integers(0, 1), st.integers(0, 39)),
    # first arc 2: the second arc may be >= 40; 2*40 + second is one sub-identifier
    st.tuples(st.just(2), st.integers(0, 2**32 - 1 - 80)),
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


# ---------------------------------------------------------------- hostile values (issue: bounds)

REPRODUCER_INTEGER_2_64 = bytes.fromhex(  # 9-byte INTEGER 2^64 as ifOperStatus.1
    "303402010104067075626c6963a22702040102030402010002010030193017060a2b0601020102020108"
    "010209010000000000000000")
REPRODUCER_EMPTY_NAME = bytes.fromhex(
    "302102010104067075626c6963a2140204010203040201000201003006300406000500")


def value_packet(tag: int, content: bytes, oid: str = "1.3.6.1.2.1.1.3.0") -> bytes:
    vb = ber.encode_oid(oid) + bytes((tag,)) + ber.encode_length(len(content)) + content
    pdu = (ber.encode_integer(7) + ber.encode_integer(0) + ber.encode_integer(0)
           + ber.encode_tlv(ber.SEQUENCE, ber.encode_tlv(ber.SEQUENCE, vb)))
    return ber.encode_tlv(ber.SEQUENCE, ber.encode_integer(1) + ber.encode_tlv(
        ber.OCTET_STRING, b"public") + ber.encode_tlv(ber.RESPONSE, pdu))


@pytest.mark.parametrize(
    ("tag", "content"),
    [
        (ber.INTEGER, (2**31).to_bytes(5, "big", signed=True)),
        (ber.INTEGER, (-(2**31) - 1).to_bytes(5, "big", signed=True)),
        (ber.INTEGER, (2**63).to_bytes(9, "big", signed=True)),
        (ber.INTEGER, b"\x01" + bytes(138)),  # 139 bytes
        (ber.COUNTER32, bytes.fromhex("0100000000")),  # 2^32, as in the issue
        (ber.GAUGE32, bytes.fromhex("0100000000")),  # a huge ifHighSpeed
        (ber.TIMETICKS, b"\x01" + bytes(138)),  # a 139-byte sysUpTime
        (ber.TIMETICKS, bytes.fromhex("000100000000")),  # 6 octets, even with a leading 0
        (ber.COUNTER64, bytes.fromhex("010000000000000000")),  # 2^64
        (ber.COUNTER64, bytes(10)),
    ],
)
def test_values_out_of_their_type_range_are_refused(tag: int, content: bytes) -> None:
    with pytest.raises(ber.BerValueError, match="out of range") as info:
        ber.decode_message(value_packet(tag, content))
    assert "1.3.6.1.2.1.1.3.0" in str(info.value)  # says where
    assert info.value.header == (1, b"public", 7)  # and which request it answers


@pytest.mark.parametrize(
    ("tag", "value"),
    [(ber.INTEGER, -(2**31)), (ber.INTEGER, 2**31 - 1), (ber.COUNTER32, 2**32 - 1),
     (ber.GAUGE32, 2**32 - 1), (ber.TIMETICKS, 2**32 - 1), (ber.COUNTER64, 2**64 - 1),
     (ber.COUNTER64, 2**63)],
)
def test_values_at_the_edges_of_their_range_are_kept(tag: int, value: int) -> None:
    assert roundtrip([("1.3.6.1.2", tag, value)]) == [("1.3.6.1.2", value)]


def test_sloppy_unsigned_without_leading_zero_is_still_unsigned() -> None:
    msg = ber.decode_message(value_packet(ber.COUNTER32, b"\xff\xff\xff\xff"))
    assert msg.varbinds[0][1] == 2**32 - 1


def test_issue_reproducers() -> None:
    with pytest.raises(ber.BerValueError, match=r"INTEGER a 9-byte value .* at 1\.3\.6\.1\.2"):
        ber.decode_message(REPRODUCER_INTEGER_2_64)
    with pytest.raises(ber.BerError, match="varbind 1 name: empty") as info:
        ber.decode_message(REPRODUCER_EMPTY_NAME)
    assert info.value.header == (1, b"public", 0x01020304)


@pytest.mark.parametrize(
    "content",
    [
        bytes([0x2B]) + bytes([0x90, 0x80, 0x80, 0x80, 0x00]),  # 2^32 as one arc
        bytes([0x2B]) + b"\xff" * 2000 + b"\x7f",  # an arc of ~4,200 decimal digits
        bytes([0x2B]) + b"\x81" * 14500 + b"\x01",  # ~30,000 digits: Python cannot print it
        bytes([0x2B]) + bytes(range(1, 128)),  # 129 arcs
    ],
)
def test_oid_sub_identifiers_are_bounded(content: bytes) -> None:
    with pytest.raises(ber.BerError, match=r"exceeds 2\^32-1|at most 128"):
        ber.decode_oid_content(content)
    # as a varbind name and as a value alike
    for packet in (value_packet(ber.NULL, b"", oid="1.3.6") .replace(
            ber.encode_oid("1.3.6"), ber.encode_tlv(ber.OBJECT_IDENTIFIER, content)),
                   value_packet(ber.OBJECT_IDENTIFIER, content)):
        with pytest.raises(ber.BerError):
            ber.decode_message(packet)


def test_largest_rfc_oid_is_kept() -> None:
    oid = "1.3." + ".".join(["4294967295"] * 126)
    assert ber.decode_oid_content(ber.encode_oid_content(oid)) == oid


@pytest.mark.parametrize("field", ["request-id", "error-status", "error-index"])
def test_header_integers_beyond_integer32_are_refused(field: str) -> None:
    big = ber.encode_tlv(ber.INTEGER, b"\x01" + bytes(20))
    parts = {"request-id": ber.encode_integer(7), "error-status": ber.encode_integer(0),
             "error-index": ber.encode_integer(0)}
    parts[field] = big
    pdu = b"".join(parts.values()) + ber.encode_tlv(ber.SEQUENCE, b"")
    packet = ber.encode_tlv(ber.SEQUENCE, ber.encode_integer(1) + ber.encode_tlv(
        ber.OCTET_STRING, b"c") + ber.encode_tlv(ber.RESPONSE, pdu))
    with pytest.raises(ber.BerError, match=field):
        ber.decode_message(packet)


def test_oid_cache_is_bounded_by_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    budget = 2_000_000
    monkeypatch.setattr(ber, "OID_CACHE_MAX_BYTES", budget)
    long_oid = "1.3.6." + ".".join(["4294967295"] * 120)
    for i in range(budget // 1500 + 100):  # more than the budget in ~1.3 KB OIDs
        ber.oid_str(ber.encode_oid_content(f"{long_oid}.{i}"))
    assert 0 < ber.oid_cache_bytes() <= budget
    assert len(ber._OID_CACHE) <= budget // 1000


@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=40),
       st.lists(st.integers(0, 2**32 - 1), min_size=0, max_size=40),
       st.lists(st.integers(0, 2**32 - 1), min_size=0, max_size=40))
def test_oid_order_with_a_common_prefix(prefix: list[int], ra: list[int], rb: list[int]) -> None:
    a = (1, 3, *prefix, *ra)
    b = (1, 3, *prefix, *rb)
    ca, cb = ber.encode_oid_arcs(a), ber.encode_oid_arcs(b)
    assert ber.oid_gt(ca, cb) == (a > b)
    assert ber.oid_gt(cb, ca) == (b > a)


def test_oid_order_of_non_minimal_encodings_is_numeric() -> None:
    padded = b"\x2b\x80\x81\x00"  # 1.3.128 with a leading 0x80 octet
    assert ber.oid_gt(padded, ber.encode_oid_content("1.3.127"))
    assert not ber.oid_gt(padded, ber.encode_oid_content("1.3.129"))
