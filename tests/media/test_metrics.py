"""Prometheus rendering of media counters."""

from __future__ import annotations

from media import HearingMetrics, StreamCounters, render_prometheus


def test_render_prometheus_labels_and_values() -> None:
    counters = StreamCounters('par"ty', "video", "in", packets=12, bytes=3400, nacks_sent=2)
    text = render_prometheus([HearingMetrics("h-1", (counters,))])

    assert "# TYPE qashyq_media_packets_total counter" in text
    assert (
        'qashyq_media_packets_total{hearing="h-1",participant="par\\"ty",kind="video",'
        'direction="in"} 12' in text
    )
    assert 'qashyq_media_nacks_sent_total{hearing="h-1"' in text
    assert text.endswith("\n")
