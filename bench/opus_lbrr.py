"""Whether an Opus packet carries in-band FEC (LBRR) for the frame before it.

A receiver that lost packet n and has packet n+1 can decode n from n+1's LBRR data
(``opus_decode(..., decode_fec=1)``) only if n+1 has it. The flag is the second bit of the
SILK layer (RFC 6716 section 4.2.3: per channel, one VAD bit per SILK frame, then the LBRR
flag), range coded; PyAV does not expose FEC decoding, so this reads the flag itself with
the RFC's range decoder. Only single-frame packets (TOC code 0, what browsers send at 20 ms)
in SILK or hybrid mode can carry it; CELT-only packets never do.
"""

from __future__ import annotations

_CODE_TOP = 1 << 31
_CODE_BOT = 1 << 23
_CODE_EXTRA = 7


class _RangeDecoder:
    """RFC 6716 section 4.1: just enough to read equiprobable bits from the start."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._offset = 0
        self._rng = 1 << _CODE_EXTRA
        self._rem = self._byte()
        self._val = self._rng - 1 - (self._rem >> (8 - _CODE_EXTRA))
        self._normalize()

    def _byte(self) -> int:
        if self._offset < len(self._data):
            value = self._data[self._offset]
            self._offset += 1
            return value
        return 0

    def _normalize(self) -> None:
        while self._rng <= _CODE_BOT:
            self._rng <<= 8
            symbol = self._rem
            self._rem = self._byte()
            symbol = ((symbol << 8) | self._rem) >> (8 - _CODE_EXTRA)
            self._val = ((self._val << 8) + (0xFF & ~symbol)) & (_CODE_TOP - 1)

    def bit(self, logp: int = 1) -> bool:
        """``ec_dec_bit_logp``: a bit whose probability of being 1 is 1 / 2**logp."""
        scaled = self._rng >> logp
        one = self._val < scaled
        if one:
            self._rng = scaled
        else:
            self._val -= scaled
            self._rng -= scaled
        self._normalize()
        return one


def carries_fec(packet: bytes) -> bool:
    """Whether this (mono, 20 ms, code 0) Opus packet holds LBRR data for the previous frame."""
    if len(packet) < 2:
        return False
    toc = packet[0]
    config, stereo, code = toc >> 3, toc & 0x04, toc & 0x03
    if config >= 16 or stereo or code != 0:
        return False  # CELT-only, or a layout this reader does not handle
    decoder = _RangeDecoder(packet[1:])
    decoder.bit()  # VAD flag of the one SILK frame
    return decoder.bit()
