"""The layering of DESIGN.md: media knows nothing above it; signaling nothing of the server,
and of media only its face (``media.plane``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

FORBIDDEN = {
    "media": ["aiohttp", "redis", "signaling", "server"],
    "signaling": ["server", "aiohttp"],
}

# Parsed in a child process: CPython 3.11's AST recursion counter is shared by threads, and a
# background thread formatting a traceback (which parses source) can corrupt it mid-parse.
_SCAN = """
import ast, json, pathlib, sys
repo = pathlib.Path(sys.argv[1]); rules = json.loads(sys.argv[2]); found = []
face = set()
for node in ast.parse((repo / "media" / "plane.py").read_text()).body:
    if isinstance(node, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
    ):
        face = set(ast.literal_eval(node.value))
for package, forbidden in rules.items():
    files = sorted((repo / package).rglob("*.py"))
    if not files:
        found.append(f"{package}: no files")
    for path in files:
        names = set()
        where = path.relative_to(repo)
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
                if package == "signaling":
                    found += [f"{where} imports {a.name}" for a in node.names
                              if a.name.split(".")[0] == "media"]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
                if package == "signaling" and node.module.split(".")[0] == "media":
                    if node.module != "media":
                        found.append(f"{where} imports {node.module} (only media's face)")
                    found += [f"{where} imports media.{a.name}, not in media.plane.__all__"
                              for a in node.names if a.name not in face]
        bad = sorted(names & set(forbidden))
        if bad:
            found.append(f"{where} imports {bad}")
if not face:
    found.append("media/plane.py has no __all__")
print(json.dumps(found))
"""


def _violations(rules: dict[str, list[str]], repo: Path = REPO) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", _SCAN, str(repo), json.dumps(rules)],
        capture_output=True, text=True, check=True, timeout=60,
    )
    found: list[str] = json.loads(result.stdout)
    return found


def test_layers_import_only_downwards() -> None:
    assert _violations(FORBIDDEN) == []


def test_signaling_sees_only_the_face_of_media(tmp_path: Path) -> None:
    """The rule catches what it forbids: an inner module, or a name outside the face."""
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "plane.py").write_text('__all__ = ["MediaPlane"]\n')
    (tmp_path / "signaling").mkdir()
    (tmp_path / "signaling" / "fine.py").write_text("from media import MediaPlane\n")
    (tmp_path / "signaling" / "inner.py").write_text(
        "from media.hearing_media import HearingMedia\nimport media.codecs\n"
    )
    (tmp_path / "signaling" / "outside.py").write_text("from media import HearingMedia\n")
    found = _violations({"signaling": []}, tmp_path)
    assert sorted(found) == sorted([
        "signaling/inner.py imports media.codecs",
        "signaling/inner.py imports media.hearing_media (only media's face)",
        "signaling/inner.py imports media.HearingMedia, not in media.plane.__all__",
        "signaling/outside.py imports media.HearingMedia, not in media.plane.__all__",
    ])
