"""The policy's clause catalogue (``data/clauses.toml``): reading, checking and loading it.

The catalogue ships with the code; ``load_catalogue`` brings the ``Clause`` table in line
with it after every ``migrate`` and on ``isms load-clauses``. A school may revise a clause's
text (clause 9), so a reload keeps the stored text unless asked to replace it.
"""

import re
import sys
import tomllib
from pathlib import Path

from django.db import DEFAULT_DB_ALIAS, connections, transaction

CATALOGUE_PATH = Path(__file__).resolve().parent / "data" / "clauses.toml"

# The apps of DESIGN.md that implement clauses.
MODULES = frozenset(
    {
        "network",
        "assets",
        "identity",
        "incidents",
        "operations",
        "facilities",
        "vendors",
        "privacy",
        "awareness",
        "core",
        "compliance",
    }
)
KEYS = frozenset({"number", "title", "text", "module", "form", "note"})
ACTOR_LABEL = "system:clauses"

# ASCII digits only, matched whole (``$`` alone would let a trailing newline through).
NUMBER_RE = re.compile(r"\d+(\.\d+)*", re.ASCII)
FORM_RE = re.compile(r"A-\d+", re.ASCII)
# Limits of the Clause model's columns, checked here so a bad file fails before the database.
NUMBER_MAX, TITLE_MAX, FORM_MAX, SORT_KEY_MAX = 20, 200, 10, 60
PART_WIDTH = 4


def sort_key(number: str) -> str:
    """The clause number with each part zero-padded, so that 2.10 sorts after 2.9."""
    return ".".join(f"{int(part):0{PART_WIDTH}d}" for part in number.split("."))


def normalise_text(text: str) -> str:
    """Whitespace normalised: runs of blanks collapsed, lines trimmed, blank lines dropped."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def parent_number(number: str) -> str | None:
    """The number of the clause's parent (2.4.1 → 2.4), or None for a top-level section."""
    return number.rpartition(".")[0] or None


def read_catalogue(path: Path | str = CATALOGUE_PATH) -> list[dict]:
    """Parse and check the catalogue; raise ValueError naming the first bad clause."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from exc
    unknown = set(data) - {"clause"}
    if unknown:
        raise ValueError(f"{path}: unknown top-level keys {sorted(unknown)}; expected [[clause]]")
    raw = data.get("clause")
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{path}: no [[clause]] tables")

    entries: list[dict] = []
    seen: set[str] = set()
    sort_keys: dict[str, str] = {}
    for position, item in enumerate(raw, start=1):
        entry = _check_entry(path, position, item)
        number = entry["number"]

        problem = ""
        if number in seen:
            problem = "number appears twice"
        elif entry["sort_key"] in sort_keys:
            # 2.01 and 2.1 are the same clause once sorted: a duplicate too.
            problem = f"number is the same clause as {sort_keys[entry['sort_key']]}"
        elif entry["parent"] is not None and entry["parent"] not in seen:
            problem = f"parent clause {entry['parent']} is missing or listed after it"
        if problem:
            raise ValueError(f"{path}: clause {number} (entry {position}): {problem}")
        seen.add(number)
        sort_keys[entry["sort_key"]] = number
        entries.append(entry)

    # A heading may go without a module only when its sub-clauses are implemented elsewhere.
    parents = {e["parent"] for e in entries}
    for position, entry in enumerate(entries, start=1):
        if not entry["module"] and entry["number"] not in parents:
            raise ValueError(
                f"{path}: clause {entry['number']} (entry {position}): module is required "
                f"(one of {', '.join(sorted(MODULES))}); only a heading may leave it empty"
            )
    return entries


def _check_entry(path: Path, position: int, item) -> dict:
    """One [[clause]] table checked field by field and returned in the loader's shape."""
    where = f"{path}: entry {position}"
    if not isinstance(item, dict):
        raise ValueError(f"{where}: expected a [[clause]] table")
    number = item.get("number")
    if not isinstance(number, str) or not NUMBER_RE.fullmatch(number):
        raise ValueError(f"{where}: number {number!r} is not like '2.4.1'")
    where = f"{path}: clause {number} (entry {position})"
    unknown = set(item) - KEYS
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(KEYS)}")
    key = sort_key(number)
    if (
        len(number) > NUMBER_MAX
        or len(key) > SORT_KEY_MAX
        or any(len(part) > PART_WIDTH for part in number.split("."))
    ):
        raise ValueError(f"{where}: number is too long")

    for name in ("title", "text", "module", "form", "note"):
        if not isinstance(item.get(name, ""), str):
            raise ValueError(f"{where}: {name} must be a string")
    title = " ".join(item.get("title", "").split())
    if not title:
        raise ValueError(f"{where}: title is empty")
    if len(title) > TITLE_MAX:
        raise ValueError(f"{where}: title is longer than {TITLE_MAX} characters")
    module = item.get("module", "").strip()
    if module and module not in MODULES:
        raise ValueError(f"{where}: module {module!r} is not one of {', '.join(sorted(MODULES))}")
    form = item.get("form", "").strip()
    if form and (not FORM_RE.fullmatch(form) or len(form) > FORM_MAX):
        raise ValueError(f"{where}: form {form!r} is not like 'A-1'")
    return {
        "number": number,
        "title": title,
        "text": normalise_text(item.get("text", "")),
        "module": module,
        "form": form,
        "parent": parent_number(number),
        "sort_key": key,
    }


def load_catalogue(
    *,
    path: Path | str = CATALOGUE_PATH,
    update_text: bool = False,
    using: str = DEFAULT_DB_ALIAS,
    label: str = ACTOR_LABEL,
) -> dict:
    """Create or update the clauses from the catalogue; return created/updated/unchanged."""
    from isms.audit import trail

    from .models import Clause

    entries = read_catalogue(path)
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    # One transaction: a failure half-way leaves the table as it was, and the audit
    # entries of the load are written (or not) with it.
    with transaction.atomic(using=using), trail.acting_as(label=label):
        by_number = {c.number: c for c in Clause.objects.using(using).order_by("sort_key")}
        for entry in entries:
            parent = by_number[entry["parent"]] if entry["parent"] else None
            wanted = {
                "title": entry["title"],
                "module": entry["module"],
                "form": entry["form"],
                "parent_id": parent.pk if parent else None,
                "sort_key": entry["sort_key"],
            }
            clause = by_number.get(entry["number"])
            if clause is None:
                clause = Clause(number=entry["number"], text=entry["text"], **wanted)
                clause.save(using=using)
                by_number[clause.number] = clause
                counts["created"] += 1
                continue
            # An empty stored text is nothing a school wrote: fill it in.
            if update_text or not clause.text:
                wanted["text"] = entry["text"]
            changed = {name: v for name, v in wanted.items() if getattr(clause, name) != v}
            if not changed:
                counts["unchanged"] += 1
                continue
            for name, value in changed.items():
                setattr(clause, name, value)
            # save() rather than QuerySet.update(): the audit trail records it. Only the
            # changed columns are written, so nothing else is overwritten with stale values.
            clause.save(using=using, update_fields=[n.removesuffix("_id") for n in changed])
            counts["updated"] += 1
    return counts


def _tables_ready(using: str) -> bool:
    """True when the clause and audit tables exist with every column the models need."""
    from isms.audit.models import AuditEntry, ChainHead

    from .models import Clause

    connection = connections[using]
    tables = set(connection.introspection.table_names())
    models = (Clause, AuditEntry, ChainHead)
    if any(m._meta.db_table not in tables for m in models):
        return False
    # After a partial migrate the table may lack a column a later migration adds.
    with connection.cursor() as cursor:
        columns = {
            c.name
            for c in connection.introspection.get_table_description(cursor, Clause._meta.db_table)
        }
    return all(f.column in columns for f in Clause._meta.concrete_fields)


def load_after_migrate(**kwargs) -> None:
    """post_migrate receiver: load the catalogue once the clause table exists."""
    using = kwargs.get("using") or DEFAULT_DB_ALIAS
    # post_migrate follows every migrate, also one that stopped before the clause (or
    # audit) tables were created: then there is nothing to load into yet.
    if not _tables_ready(using):
        return
    counts = load_catalogue(using=using)
    if kwargs.get("verbosity", 1) >= 1 and (counts["created"] or counts["updated"]):
        stdout = kwargs.get("stdout") or sys.stdout
        stdout.write(f"Policy clauses: {format_counts(counts)}\n")


def format_counts(counts: dict) -> str:
    """The counts of a load as one line: '3 created, 1 updated, 82 unchanged'."""
    return ", ".join(f"{counts[k]} {k}" for k in ("created", "updated", "unchanged"))
