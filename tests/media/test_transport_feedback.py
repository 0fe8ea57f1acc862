"""Transport-wide congestion control feedback: what a publisher's controller reads back.

Decoded here by an independent reader written from the draft (not the encoder's code), so
a wrong bit in the encoder cannot agree with itself.
"""

from __future__ import annotations

import struct

from media.transport_feedback import MAX_PACKETS, TransportFeedback


def decode(packet: bytes) -> tuple[int, int, list[tuple[int, float | None]]]:
    """(feedback count, base sequence, [(sequence, arrival ms or None)]) of one packet."""
    first, packet_type, length = struct.unpack_from("!BBH", packet)
    assert first == 0x80 | 15 and packet_type == 205 and (length + 1) * 4 == len(packet)
    base, count = struct.unpack_from("!HH", packet, 12)
    reference_and_count = struct.unpack_from("!I", packet, 16)[0]
    reference, fb_count = reference_and_count >> 8, reference_and_count & 0xFF
    pos, symbols = 20, []
    while len(symbols) < count:
        chunk = struct.unpack_from("!H", packet, pos)[0]
        pos += 2
        if not chunk & 0x8000:
            symbols += [(chunk >> 13) & 0x3] * (chunk & 0x1FFF)
        elif chunk & 0x4000:
            symbols += [(chunk >> (12 - 2 * i)) & 0x3 for i in range(7)]
        else:
            symbols += [(chunk >> (13 - i)) & 0x1 for i in range(14)]
    symbols = symbols[:count]
    time_ms = reference * 64.0
    out: list[tuple[int, float | None]] = []
    for i, symbol in enumerate(symbols):
        seq = (base + i) & 0xFFFF
        if symbol == 0:
            out.append((seq, None))
            continue
        if symbol == 1:
            delta = packet[pos]
            pos += 1
        else:
            delta = struct.unpack_from("!h", packet, pos)[0]
            pos += 2
        time_ms += delta * 0.25
        out.append((seq, time_ms))
    return fb_count, base, out


def test_arrivals_and_losses_read_back_within_a_quarter_millisecond() -> None:
    feedback = TransportFeedback()
    arrivals = {100: 10.0, 101: 10.0042, 103: 10.0101, 104: 10.0900, 105: 10.0890}
    for seq, at in arrivals.items():
        feedback.add(seq, at)
    count, base, reported = decode(feedback.build(0x1234, 0x5678) or b"")
    assert (count, base) == (0, 100)
    assert [seq for seq, _ in reported] == [100, 101, 102, 103, 104, 105]
    assert dict(reported)[102] is None  # lost
    start = dict(reported)[100]
    assert start is not None
    for seq, at in arrivals.items():
        got = dict(reported)[seq]
        assert got is not None
        # Relative times are what the sender uses; each within one 250 us tick.
        assert abs((got - start) - (at - 10.0) * 1000) <= 0.25, seq
    # A later packet reordered before an earlier one has a negative (large) delta: kept.
    assert dict(reported)[105] < dict(reported)[104]  # type: ignore[operator]


def test_feedback_continues_where_the_last_ended_and_wraps() -> None:
    feedback = TransportFeedback()
    feedback.add(65534, 1.0)
    feedback.add(65535, 1.001)
    first = decode(feedback.build(1, 2) or b"")
    feedback.add(0, 1.002)
    feedback.add(2, 1.004)
    feedback.add(65535, 1.005)  # a late duplicate of what was reported: ignored
    second = decode(feedback.build(1, 2) or b"")
    assert first[0] == 0 and second[0] == 1
    assert [s for s, _ in second[2]] == [0, 1, 2] and second[1] == 0
    assert second[2][1][1] is None
    assert feedback.build(1, 2) is None  # nothing new


def test_a_long_gap_is_one_run_and_a_burst_is_split_across_feedbacks() -> None:
    feedback = TransportFeedback()
    feedback.add(10, 0.5)
    feedback.add(60, 0.6)  # 49 lost in between: a run-length chunk
    _, _, reported = decode(feedback.build(1, 2) or b"")
    assert len(reported) == 51 and sum(1 for _, at in reported if at is None) == 49
    for seq in range(1000, 1000 + MAX_PACKETS + 50):
        feedback.add(seq, 1.0 + seq / 10_000)
    _, base, first = decode(feedback.build(1, 2) or b"")
    _, base2, second = decode(feedback.build(1, 2) or b"")
    # After a long silence the report starts at what arrived, not with 939 "lost" packets.
    assert (base, len(first)) == (1000, MAX_PACKETS)
    assert (base2, len(second)) == (1000 + MAX_PACKETS, 50)
    assert all(at is not None for _, at in first + second)
