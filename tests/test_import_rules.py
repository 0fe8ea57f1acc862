"""The layering of DESIGN.md: media knows nothing above it; signaling nothing of the server."""

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
for package, forbidden in rules.items():
    files = sorted((repo / package).rglob("*.py"))
    if not files:
        found.append(f"{package}: no files")
    for path in files:
        names = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        bad = sorted(names & set(forbidden))
        if bad:
            found.append(f"{path.relative_to(repo)} imports {bad}")
print(json.dumps(found))
"""


def test_layers_import_only_downwards() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _SCAN, str(REPO), json.dumps(FORBIDDEN)],
        capture_output=True, text=True, check=True, timeout=60,
    )
    assert json.loads(result.stdout) == []
