"""M-lines a page rejected in its answer, told to aiortc as inactive ones.

A browser that shares no codec with an m-line of the server's offer rejects it (RFC 8829
5.3.1: port 0, no ICE or DTLS attributes, a codec of its own): Firefox without the OpenH264
plugin does so with every video m-line of an H.264 hearing. aiortc cannot read a rejected
m-line (it asks every section for ICE credentials and a common codec) and would refuse the
whole answer, audio included. So the server rewrites each rejected section as an
``inactive`` one with the offer's codecs and the answer's bundled transport: the page
stays in the hearing with what it can do (sound), nothing is sent either way on those
m-lines, and their mids are remembered, so later offers keep them rejected (port 0) as
JSEP requires instead of asking the page to revive them.
"""

from __future__ import annotations

import re

# What a rejected section borrows from the answer's first live section (the BUNDLE
# transport): without them aiortc refuses the section.
_TRANSPORT = ("a=ice-ufrag:", "a=ice-pwd:", "a=ice-options:", "a=fingerprint:", "a=setup:")
# What it keeps of the offer's section: the codecs aiortc negotiated there.
_CODECS = ("a=rtpmap:", "a=fmtp:", "a=rtcp-fb:")
_DIRECTIONS = ("a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive")
# One scan of the text: almost every answer rejects nothing and is passed on untouched.
_ANY_REJECTED = re.compile(r"^m=\S+ 0 ", re.M)


def _sections(sdp: str) -> tuple[list[str], list[list[str]]]:
    """The session part and the m-sections (lists of lines, without line ends)."""
    session: list[str] = []
    sections: list[list[str]] = []
    for line in sdp.splitlines():
        if line.startswith("m="):
            sections.append([line])
        elif sections:
            sections[-1].append(line)
        elif line:
            session.append(line)
    return session, sections


def _mid(section: list[str]) -> str | None:
    return next((line[6:] for line in section if line.startswith("a=mid:")), None)


def _rejected(section: list[str]) -> bool:
    fields = section[0].split(" ")
    return len(fields) > 1 and fields[1] == "0"


def rejected_mids(answer: str) -> set[str]:
    """The mids of the audio and video m-lines an answer (or offer) rejects."""
    if not _ANY_REJECTED.search(answer):
        return set()
    _, sections = _sections(answer)
    return {mid for s in sections
            if _rejected(s) and (mid := _mid(s)) is not None
            and s[0][2:].startswith(("audio", "video"))}


def accept_rejected(answer: str, offer: str) -> str:
    """The answer with each rejected audio/video m-line made an ``inactive`` one that aiortc
    accepts (the offer's codecs, the bundled transport's ICE and DTLS attributes); an
    answer that rejects nothing is returned as it is."""
    if not _ANY_REJECTED.search(answer):
        return answer
    session, sections = _sections(answer)
    _, offered = _sections(offer)
    by_mid = {_mid(s): s for s in offered}
    live = next((s for s in sections if not _rejected(s)), [])
    transport = [line for line in live if line.startswith(_TRANSPORT)]
    out = list(session)
    for index, section in enumerate(sections):
        kind = section[0][2:].split(" ", 1)[0]
        mid = _mid(section)
        original = by_mid.get(mid) or (offered[index] if index < len(offered) else None)
        if not _rejected(section) or kind not in ("audio", "video") or original is None:
            out += section
            continue
        # "m=<kind> <port> <proto> <formats>": the offer's formats, on the discard port.
        proto_and_formats = original[0].split(" ", 2)[2]
        out += [f"m={kind} 9 {proto_and_formats}", "c=IN IP4 0.0.0.0", "a=inactive"]
        out += transport
        out += [f"a=mid:{mid if mid is not None else _mid(original)}", "a=rtcp-mux"]
        out += [line for line in original if line.startswith(_CODECS)]
    return "\r\n".join(out) + "\r\n"


def keep_rejected(offer: str, mids: set[str]) -> str:
    """An offer with the m-lines of ``mids`` (rejected by the page before) rejected again:
    port 0 and ``inactive``, as JSEP asks of an offerer that does not reuse them."""
    if not mids:
        return offer
    session, sections = _sections(offer)
    # A rejected m-line leaves the BUNDLE group (RFC 8843 7.3.3).
    out = [_without(line, mids) if line.startswith("a=group:BUNDLE") else line
           for line in session]
    for section in sections:
        if _mid(section) not in mids:
            out += section
            continue
        fields = section[0].split(" ")
        fields[1] = "0"
        out.append(" ".join(fields))
        out += ["a=inactive" if line.startswith(_DIRECTIONS) else line
                for line in section[1:]]
    return "\r\n".join(out) + "\r\n"


def _without(group: str, mids: set[str]) -> str:
    semantic, *members = group.split(" ")
    return " ".join([semantic, *(m for m in members if m not in mids)])
