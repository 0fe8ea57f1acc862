"""Headless Chromium for measurements: a realistic fake camera and voice, optionally inside a
``ShapedLink``'s network namespace.

The camera is a 1280x720, 30 fps ``testsrc2`` clip (moving pattern, counter, so an encoder
has real work) and the microphone a WAV file: ``speech`` (a voiced tone with a wandering
pitch, syllables at about 4 Hz and phrases of 2.8 s with 1.2 s pauses; espeak-ng is used
instead when installed) or ``quiet`` (a room at about -50 dBFS). Both are made once with
ffmpeg and cached. Chromium loops them.

A browser inside a namespace reaches the server at the link's host address over plain http,
which is not a secure context: ``--unsafely-treat-insecure-origin-as-secure`` lets the page
use the camera there, as https would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Playwright

from .shaped_link import ShapedLink

CHROMIUM = Path("/usr/bin/chromium")
# The project's usual flags (tests/fixtures/browser.py), plus: pages of one browser must not
# be throttled as background tabs, or a measurement would see the browser's own pacing.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
PHONE: dict[str, Any] = {
    "viewport": {"width": 360, "height": 640},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "user_agent": (
        "Mozilla/5.0 (Linux; Android 12; Qashyq village phone) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36"
    ),
}
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}

CAMERA_SECONDS = 4  # 1280x720 raw frames are 1.4 MB each: 4 s is 166 MB, looped by Chromium
VOICE_SECONDS = 12
_FORMATS = {".y4m": "yuv4mpegpipe", ".wav": "wav"}
_FFMPEG = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"]
# A voiced sound: four harmonics of a pitch wandering around 120 Hz, syllables (4 Hz),
# phrases of 2.8 s then 1.2 s of silence. Opus's voice-activity detector calls it speech.
_PITCH = "2*PI*(120*t-6.8*cos(2*PI*0.7*t))"  # the phase of a pitch of 120 +- 30 Hz
_HARMONICS = "+".join(f"{a}*sin({n}*{_PITCH})" for n, a in ((1, 1), (2, 0.7), (3, 0.5), (5, 0.3)))
_SPEECH = (f"aevalsrc='0.22*({_HARMONICS})*(0.55+0.45*sin(2*PI*4*t))*lt(mod(t\\,4)\\,2.8)'"
           f":s=48000:d={VOICE_SECONDS}")
_QUIET = f"anoisesrc=color=pink:amplitude=0.003:sample_rate=48000:duration={VOICE_SECONDS}"
_SPOKEN_TEXT = (
    "The court is in session. The case of alimony is heard today. "
    "The defendant may speak after the prosecutor. Please state your name for the record."
)


@dataclass(frozen=True)
class FakeMedia:
    """The files Chromium captures from: one camera, a speaking and a quiet microphone."""

    camera: Path
    speech: Path
    quiet: Path


def _make(path: Path, argv: list[str]) -> Path:
    if path.exists() and path.stat().st_size > 0:
        return path
    # Written aside then renamed: a killed run (or a concurrent one) never leaves a
    # truncated file under the cached name.
    partial = path.with_name(f"{path.name}.{os.getpid()}.part")
    try:
        subprocess.run([*argv, "-f", _FORMATS[path.suffix], str(partial)],
                       check=True, capture_output=True, timeout=120)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def _speech(cache: Path) -> Path:
    path = cache / "voice-speech.wav"
    espeak = shutil.which("espeak-ng")
    if espeak is not None and not path.exists():
        raw = cache / "voice-espeak.wav"
        subprocess.run([espeak, "-s", "150", "-w", str(raw), _SPOKEN_TEXT],
                       check=True, capture_output=True, timeout=60)
        # Chromium's fake capture wants 48 kHz; a pause so the loop sounds like turns.
        return _make(path, [*_FFMPEG, "-i", str(raw), "-af", "apad=pad_dur=1.5",
                            "-ar", "48000", "-ac", "1", "-c:a", "pcm_s16le"])
    return _make(path, [*_FFMPEG, "-f", "lavfi", "-i", _SPEECH, "-ac", "1",
                        "-c:a", "pcm_s16le"])


def fake_media(cache: Path, camera_size: str = "1280x720") -> FakeMedia:
    """The camera (``camera_size``, WxH) and microphone files, made with ffmpeg on first use
    under ``cache``."""
    if shutil.which("ffmpeg") is None:
        raise RuntimeError("ffmpeg is missing (Debian package ffmpeg)")
    cache.mkdir(parents=True, exist_ok=True)
    camera = _make(cache / f"camera-{camera_size}-30-{CAMERA_SECONDS}s.y4m", [
        *_FFMPEG, "-f", "lavfi", "-i", f"testsrc2=size={camera_size}:rate=30",
        "-t", str(CAMERA_SECONDS), "-pix_fmt", "yuv420p"])
    quiet = _make(cache / "voice-quiet.wav", [*_FFMPEG, "-f", "lavfi", "-i", _QUIET,
                                              "-ac", "1", "-c:a", "pcm_s16le"])
    return FakeMedia(camera=camera, speech=_speech(cache), quiet=quiet)


def chromium_args(*, camera: Path | None = None, microphone: Path | None = None,
                  origin: str | None = None) -> list[str]:
    """Chromium's flags: the project's, capture from these files, ``origin`` (``http://
    host:port``) treated as secure."""
    args = list(CHROMIUM_ARGS)
    if camera is not None:
        args.append(f"--use-file-for-fake-video-capture={camera}")
    if microphone is not None:
        args.append(f"--use-file-for-fake-audio-capture={microphone}")
    if origin is not None:
        args.append(f"--unsafely-treat-insecure-origin-as-secure={origin}")
    return args


async def launch(
    pw: Playwright,
    *,
    camera: Path | None = None,
    microphone: Path | None = None,
    origin: str | None = None,
    link: ShapedLink | None = None,
    scratch: Path | None = None,
) -> Browser:
    """A headless system Chromium; inside ``link``'s namespace when given (its wrapper
    script goes to ``scratch``, so its sockets and so its traffic take the shaped link)."""
    if not CHROMIUM.is_file():
        raise RuntimeError(f"{CHROMIUM} is missing (Debian package chromium)")
    executable = CHROMIUM
    if link is not None:
        if scratch is None:
            raise ValueError("a browser in a namespace needs a scratch directory")
        scratch.mkdir(parents=True, exist_ok=True)
        executable = link.wrapper(CHROMIUM, scratch)
    return await pw.chromium.launch(
        executable_path=str(executable), headless=True,
        args=chromium_args(camera=camera, microphone=microphone, origin=origin))
