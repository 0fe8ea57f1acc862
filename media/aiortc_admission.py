"""aiortc's private hooks that make admitting a participant cheap (``aiortc_seam.py`` has
the forwarding ones; both are pinned by ``tests/media/test_aiortc_hooks.py`` and
``tests/media/test_join_burst.py``).

Hooks used:
- ``aiortc.rtcrtpreceiver.RemoteBitrateEstimator``: the one module attribute the SFU touches,
  only for the duration of a synchronous block and only for the calling thread
  (``lean_receivers``), so server receivers are built without the estimator they never use.
- ``RTCPeerConnection.__certificates`` / ``RTCCertificate.getFingerprints`` (cached on the
  server's own certificates: aiortc recomputes them for every m-line of every offer).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from aiortc import RTCPeerConnection
from aiortc import rtcrtpreceiver as _receiver_module


@contextlib.contextmanager
def lean_receivers() -> Iterator[None]:
    """Receivers created inside this block (in this thread) get no remote bitrate estimator.

    aiortc builds one per video receiver (a 1000-bucket rate counter, about 0.2 ms and a
    thousand objects for the collector) and the server frees it again at once
    (``aiortc_seam._drop_receive_machinery``): with twenty joins at once that was the largest single
    cost of admission. The block must not suspend; any other thread still gets aiortc's
    estimator, and aiortc treats a missing one as it does for audio receivers.
    """
    module: Any = _receiver_module
    original = module.RemoteBitrateEstimator
    owner = threading.get_ident()

    def estimator() -> Any:
        return None if threading.get_ident() == owner else original()

    module.RemoteBitrateEstimator = estimator
    try:
        yield
    finally:
        module.RemoteBitrateEstimator = original



def cache_fingerprints(pc: RTCPeerConnection) -> None:
    """Compute the connection's certificate fingerprints once instead of per m-line.

    aiortc hashes the certificate with three digests for every m-line of every offer it
    creates and applies (``RTCDtlsTransport.getLocalParameters``); the certificate never
    changes, so a hearing's renegotiations recomputed the same values many times over.
    """
    hooked: Any = pc
    for certificate in hooked._RTCPeerConnection__certificates:
        fingerprints = certificate.getFingerprints()

        def cached(fingerprints: list[Any] = fingerprints) -> list[Any]:
            return list(fingerprints)

        certificate.getFingerprints = cached
