#!/usr/bin/env python3
"""Compile gettext catalogues (.po) into the binary .mo files Django reads.

Pure Python, so neither a developer nor a server needs GNU gettext to build the
catalogues (only ``makemessages``, which extracts the strings, needs it).

    python scripts/compile_messages.py            # every isms/locale/*/LC_MESSAGES/*.po
    python scripts/compile_messages.py --check    # exit 1 if a committed .mo is stale
    python scripts/compile_messages.py a.po -o out/   # given files, .mo files into out/

Handles ``msgctxt``, plural forms (``msgid_plural`` / ``msgstr[n]``), strings split over
several lines and C escapes. Fuzzy, obsolete (``#~``) and untranslated entries are left
out, as ``msgfmt`` does; a plural entry counts as untranslated unless every form is
filled in. The header entry (``msgid ""``) is always kept (it carries the charset and
the plural rule), less its POT-Creation-Date line as msgfmt does. The output is
deterministic (entries sorted, no hash table), so the committed .mo can be compared
byte for byte with a fresh build.
"""

import argparse
import re
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCALE_DIR = ROOT / "isms" / "locale"

MAGIC = 0x950412DE
CONTEXT_SEPARATOR = "\x04"


class POError(ValueError):
    """A .po file that cannot be parsed, with the file and line it went wrong at."""


@dataclass
class Entry:
    msgctxt: str | None = None
    msgid: str = ""
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False
    line: int = 0

    @property
    def fuzzy(self) -> bool:
        return "fuzzy" in self.flags

    @property
    def is_header(self) -> bool:
        return self.msgid == "" and self.msgctxt is None

    @property
    def translated(self) -> bool:
        if self.msgid_plural is None:
            return bool(self.msgstr.get(0))
        forms = [self.msgstr.get(i, "") for i in range(max(self.msgstr, default=-1) + 1)]
        return bool(forms) and all(forms)

    @property
    def key(self) -> str:
        """The .mo key: context, EOT, msgid, and NUL plus the plural msgid if any."""
        key = self.msgid
        if self.msgctxt is not None:
            key = self.msgctxt + CONTEXT_SEPARATOR + key
        if self.msgid_plural is not None:
            key += "\0" + self.msgid_plural
        return key

    @property
    def value(self) -> str:
        """The .mo value: the translation, or every plural form joined by NUL."""
        if self.msgid_plural is None:
            return self.msgstr.get(0, "")
        return "\0".join(self.msgstr[i] for i in sorted(self.msgstr))


_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "\\": "\\",
    '"': '"',
    "'": "'",
    "?": "?",
}
_ESCAPE_RE = re.compile(r"\\(x[0-9A-Fa-f]{1,2}|[0-7]{1,3}|.)", re.DOTALL)
_KEYWORD_RE = re.compile(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s*(\".*)$")


def unescape(text: str) -> str:
    """The value of the C-style escapes in a .po string (without its quotes)."""

    def replace(match: re.Match) -> str:
        code = match.group(1)
        if code[0] == "x" and len(code) > 1:
            return chr(int(code[1:], 16))
        if code[0] in "01234567":
            return chr(int(code, 8))
        if code in _ESCAPES:
            return _ESCAPES[code]
        raise ValueError(f"unknown escape \\{code}")

    return _ESCAPE_RE.sub(replace, text)


def _quoted(text: str, where: str) -> str:
    text = text.strip()
    if len(text) < 2 or not (text.startswith('"') and text.endswith('"')):
        raise POError(f"{where}: expected a quoted string, got {text!r}")
    try:
        return unescape(text[1:-1])
    except ValueError as exc:
        raise POError(f"{where}: {exc}") from exc


def parse_po(text: str, name: str = "<po>") -> list[Entry]:
    """Every entry of a .po file, in file order (obsolete ones marked, not dropped)."""
    entries: list[Entry] = []
    entry = Entry()
    # Where continuation lines go: ("msgid", None), ("msgstr", 2), ...
    target: tuple[str, int | None] | None = None
    seen_keyword = False

    def finish() -> None:
        nonlocal entry, target, seen_keyword
        if seen_keyword:
            entries.append(entry)
        entry, target, seen_keyword = Entry(), None, False

    for number, raw in enumerate(text.splitlines(), start=1):
        where = f"{name}:{number}"
        line = raw.strip()
        obsolete = False
        if line.startswith("#~"):
            obsolete = True
            line = line[2:].strip()
            if line.startswith("|"):  # obsolete previous msgid: a comment
                continue
        elif line.startswith("#"):
            if line.startswith("#,"):
                if seen_keyword and target and target[0] == "msgstr":
                    finish()
                entry.flags.update(f.strip() for f in line[2:].split(",") if f.strip())
            elif seen_keyword and target and target[0] == "msgstr":
                finish()  # a comment after a msgstr starts the next entry
            continue
        if not line:
            if seen_keyword:
                finish()
            continue
        if line.startswith('"'):
            if target is None:
                raise POError(f"{where}: string continuation outside an entry")
            value = _quoted(line, where)
            kind, index = target
            if kind == "msgstr":
                entry.msgstr[index or 0] += value
            else:
                setattr(entry, kind, getattr(entry, kind) + value)
            continue
        match = _KEYWORD_RE.match(line)
        if not match:
            raise POError(f"{where}: cannot parse {raw!r}")
        keyword, index, rest = match.groups()
        value = _quoted(rest, where)
        # A new msgctxt or msgid after a msgstr begins the next entry (no blank line).
        if keyword in ("msgctxt", "msgid") and target and target[0] == "msgstr":
            finish()
        if not seen_keyword:
            entry.line = number
        seen_keyword = True
        entry.obsolete = entry.obsolete or obsolete
        if keyword.startswith("msgstr"):
            slot = int(index) if index is not None else 0
            entry.msgstr[slot] = value
            target = ("msgstr", slot)
        else:
            setattr(entry, keyword, value)
            target = (keyword, None)
    finish()
    for e in entries:
        if not e.obsolete and not e.msgstr:
            raise POError(f"{name}:{e.line}: entry {e.msgid!r} has no msgstr")
    return entries


def _charset(entries: list[Entry]) -> str:
    for e in entries:
        if e.is_header and not e.obsolete:
            match = re.search(r"charset=([^\s;]+)", e.msgstr.get(0, ""), re.IGNORECASE)
            if match:
                return match.group(1)
    return "utf-8"


def messages(entries: list[Entry]) -> dict[str, str]:
    """What goes into the .mo: the header and every translated, non-fuzzy entry."""
    result: dict[str, str] = {}
    for e in entries:
        if e.obsolete:
            continue
        if e.is_header:
            # Like msgfmt, drop the extraction date: re-running makemessages alone
            # then leaves the .mo unchanged.
            result[e.key] = re.sub(r"(?m)^POT-Creation-Date:.*\n?", "", e.value)
        elif e.translated and not e.fuzzy:
            result[e.key] = e.value
    return result


def build_mo(catalog: dict[str, str], charset: str = "utf-8") -> bytes:
    """The GNU .mo image of a catalogue: sorted keys, no hash table."""
    items = sorted((k.encode(charset), v.encode(charset)) for k, v in catalog.items())
    count = len(items)
    header_size = 7 * 4
    originals_at = header_size
    translations_at = originals_at + count * 8
    data_at = translations_at + count * 8
    originals, translations, data = [], [], bytearray()
    for key, _value in items:
        originals.append((len(key), data_at + len(data)))
        data += key + b"\0"
    for _key, value in items:
        translations.append((len(value), data_at + len(data)))
        data += value + b"\0"
    out = bytearray(struct.pack("<7I", MAGIC, 0, count, originals_at, translations_at, 0, data_at))
    for length, offset in originals + translations:
        out += struct.pack("<2I", length, offset)
    out += data
    return bytes(out)


def compile_po(path: Path) -> bytes:
    """The .mo image of one .po file."""
    text = Path(path).read_text(encoding="utf-8")
    entries = parse_po(text, str(path))
    return build_mo(messages(entries), _charset(entries))


def po_files() -> list[Path]:
    return sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help=".po files (default: all)")
    parser.add_argument("-o", "--output-dir", type=Path, help="write the .mo files here")
    parser.add_argument(
        "--check", action="store_true", help="only report .mo files that are out of date"
    )
    args = parser.parse_args(argv)
    files = args.files or po_files()
    if not files:
        print("no .po files found", file=sys.stderr)
        return 1
    stale = 0
    for po in files:
        try:
            image = compile_po(po)
        except (OSError, POError, UnicodeError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        mo = (args.output_dir or po.parent) / (po.stem + ".mo")
        if args.check:
            if not mo.exists() or mo.read_bytes() != image:
                print(f"out of date: {mo}", file=sys.stderr)
                stale += 1
            continue
        mo.parent.mkdir(parents=True, exist_ok=True)
        mo.write_bytes(image)
        count = struct.unpack_from("<I", image, 8)[0] - 1  # less the header
        print(f"{mo}: {count} messages")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
