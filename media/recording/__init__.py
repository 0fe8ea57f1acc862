"""Recording the hearing: track recorders (packet sinks muxing with PyAV in worker threads),
segment files and their chain journal, the composite, and the signed manifest.

Like the rest of ``media``, this package imports neither aiohttp, redis nor ``signaling``.
"""
