"""The interface strings (web_client/strings/<lang>.js) are complete.

Every language has exactly the keys English has, with the same {placeholders}, and every
key the pages use (t("..."), data-i18n="...", keys built from protocol values) exists in
English. The data modules are read by Node itself, as a browser would import them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest

WEB_CLIENT = Path(__file__).resolve().parent.parent / "web_client"
STRINGS = WEB_CLIENT / "strings"
REFERENCE = "en"

# A key: dotted lowercase words ("hearing.chat.send", "error.4408.opens").
KEY = r"[a-z][A-Za-z]*(?:\.[A-Za-z0-9_]+)+"
# t("key") anywhere in the scripts.
T_CALL = re.compile(rf"""\bt\(\s*["']({KEY})["']""")
# data-i18n, -placeholder, -aria, -title, and the control bar's data-short.
HTML_KEY = re.compile(rf"""data-(?:i18n(?:-placeholder|-aria|-title)?|short)=["']({KEY})["']""")
# A quoted literal that may be a key handed to t() later ("error.reconnect" as an argument).
LITERAL = re.compile(rf"""["']({KEY})["']""")
# A key built at run time: `error.${code}` -> its fixed part "error.".
TEMPLATE_PREFIX = re.compile(r"`((?:[a-z][A-Za-z]*\.)(?:[A-Za-z0-9_]+\.)*)\$\{")

NODE_SCRIPT = """
const [stringsDir, signalingUrl, languages] = JSON.parse(process.argv[1]);
const out = { strings: {} };
for (const lang of languages) {
  out.strings[lang] = (await import(`${stringsDir}/${lang}.js`)).default;
}
const signaling = await import(signalingUrl);
out.fatalCloseCodes = signaling.FATAL_CLOSE_CODES;
out.refusalReasons = signaling.REFUSAL_REASONS;
console.log(JSON.stringify(out));
"""


def languages() -> list[str]:
    """The languages i18n.js offers (its LANGUAGES list)."""
    source = (WEB_CLIENT / "i18n.js").read_text()
    match = re.search(r"export const LANGUAGES = \[([^\]]*)\]", source)
    assert match, "i18n.js no longer declares LANGUAGES"
    return re.findall(r'"([a-z]{2})"', match.group(1))


@cache
def loaded() -> dict[str, Any]:
    """The string tables and the protocol's close codes, as Node imports them."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    args = json.dumps([STRINGS.as_uri(), (WEB_CLIENT / "signaling_client.js").as_uri(),
                       languages()])
    done = subprocess.run([node, "--input-type=module", "-e", NODE_SCRIPT, args],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def english() -> dict[str, str]:
    table: dict[str, str] = loaded()["strings"][REFERENCE]
    return table


def test_every_language_has_a_table_and_nothing_else() -> None:
    assert sorted(p.stem for p in STRINGS.glob("*.js")) == sorted(languages())


@pytest.mark.parametrize("lang", [lang for lang in languages() if lang != REFERENCE])
def test_language_has_exactly_the_english_keys(lang: str) -> None:
    table: dict[str, str] = loaded()["strings"][lang]
    missing = sorted(english().keys() - table.keys())
    extra = sorted(table.keys() - english().keys())
    assert not missing, f"{lang}.js lacks keys English has: {missing}"
    assert not extra, f"{lang}.js has keys English lacks: {extra}"


@pytest.mark.parametrize("lang", languages())
def test_texts_are_strings_with_the_english_placeholders(lang: str) -> None:
    table: dict[str, Any] = loaded()["strings"][lang]
    placeholders = re.compile(r"\{(\w+)\}")
    for key, text in table.items():
        assert isinstance(text, str) and text, f"{lang}.js: {key} is not a text"
        if key in english():
            assert set(placeholders.findall(text)) == set(placeholders.findall(english()[key])), (
                f"{lang}.js: {key} has other {{placeholders}} than English")


def used_keys() -> tuple[set[str], set[str]]:
    """Keys the pages use literally, and the fixed parts of keys they build at run time."""
    keys: set[str] = set()
    prefixes: set[str] = set()
    groups = {key.split(".")[0] for key in english()}
    for path in WEB_CLIENT.glob("*.js"):
        source = path.read_text()
        keys |= set(T_CALL.findall(source))
        # Other literals count when they are shaped like a key of a known group; a
        # storage key such as "qashyq.lang" is not.
        keys |= {k for k in LITERAL.findall(source) if k.split(".")[0] in groups}
        prefixes |= set(TEMPLATE_PREFIX.findall(source))
    for path in WEB_CLIENT.glob("*.html"):
        keys |= set(HTML_KEY.findall(path.read_text()))
    return keys, prefixes


def test_keys_used_by_the_pages_exist_in_english() -> None:
    keys, prefixes = used_keys()
    assert "hearing.chat.send" in keys and "error." in prefixes  # the scan still finds them
    missing = sorted(keys - english().keys())
    assert not missing, f"used in web_client/ but not in strings/en.js: {missing}"
    unknown = sorted(p for p in prefixes if not any(k.startswith(p) for k in english()))
    assert not unknown, f"keys built from these prefixes have no text at all: {unknown}"


def test_every_fatal_close_has_words() -> None:
    """The error screen says `error.<code>` or `error.<reason>` of a 4403 close."""
    needed = {f"error.{code}" for code in loaded()["fatalCloseCodes"]}
    needed |= {f"error.{reason}" for reason in loaded()["refusalReasons"]}
    assert not sorted(needed - english().keys())


def test_every_role_and_hearing_kind_has_a_name() -> None:
    from signaling.model import HearingKind, Role

    needed = {f"role.{role.value}" for role in Role} | {f"kind.{k.value}" for k in HearingKind}
    assert not sorted(needed - english().keys())
