"""The policy's clause catalogue: complete, well-formed, and loaded idempotently (clauses.py)."""

import io
import re
from pathlib import Path

import pytest
from django.core.management import call_command

from isms.compliance import clauses
from isms.compliance.clauses import load_catalogue, read_catalogue, sort_key

REPO_ROOT = Path(__file__).resolve().parents[3]
# The customer's policy lives beside the repository, not in it; CI clones the repository
# with `shared/` next to it. Without it the catalogue is still checked against the list below.
POLICY_PATH = REPO_ROOT.parent / "shared" / "policy" / "school-security-policy.zh-TW.md"

# Every clause and sub-clause of section 三、實施規定, in the policy's order.
EXPECTED_NUMBERS = [
    "1", "1.1", "1.1.1", "1.1.2", "1.1.3", "1.1.4", "1.2", "1.2.1", "1.2.2",
    "2", "2.1", "2.2", "2.2.1", "2.2.2", "2.2.3", "2.3", "2.3.1", "2.3.2",
    "2.4", "2.4.1", "2.4.2", "2.5", "2.5.1", "2.5.2", "2.6", "2.7", "2.8",
    "2.9", "2.9.1", "2.9.2", "2.9.3",
    "2.10", "2.10.1", "2.10.2", "2.10.3", "2.10.4", "2.10.5", "2.10.6", "2.10.7", "2.10.8",
    "2.10.9", "2.10.10", "2.10.11",
    "3", "3.1", "3.1.1", "3.1.2", "3.1.3", "3.2", "3.3", "3.4", "3.5", "3.6", "3.6.1", "3.6.2",
    "4", "4.1", "4.2", "4.3",
    "5", "5.1", "5.2", "5.2.1", "5.2.2",
    "6", "6.1", "6.1.1", "6.1.2", "6.1.3", "6.2",
    "7", "7.1", "7.2", "7.3", "7.4", "7.5", "7.6", "7.7", "7.8", "7.9", "7.10",
    "8", "8.1", "8.2", "8.3",
    "9",
]  # fmt: skip
EXPECTED_FORMS = {
    "2.2.3": "A-1",
    "2.5.1": "A-2",
    "2.7": "A-3",
    "2.8": "A-4",
    "2.9.3": "A-5",
    "2.10.4": "A-6",
    "3.5": "A-1",
    "3.6.1": "A-7",
    "5.1": "A-8",
    "6.1.2": "A-9",
    "6.1.3": "A-10",
    "6.2": "A-3",
}
# The policy numbers the two items of 3.6 "1.1.2" and "1.1.3" by mistake.
MISNUMBERED = {"1.1.2": "3.6.1", "1.1.3": "3.6.2"}
EDITORIAL = re.compile(r"〔[^〕]*〕")  # the catalogue's own remarks inside a text


def by_number():
    return {e["number"]: e for e in read_catalogue()}


# The catalogue file ----------------------------------------------------------------------


def test_catalogue_holds_every_clause_of_section_3_in_order():
    entries = read_catalogue()
    assert len(entries) == 86
    assert [e["number"] for e in entries] == EXPECTED_NUMBERS
    assert [e["sort_key"] for e in entries] == sorted(e["sort_key"] for e in entries)


def test_every_clause_has_a_short_title_and_a_text():
    for e in read_catalogue():
        assert 0 < len(e["title"]) <= 30, e["number"]
        assert e["text"], e["number"]
        assert e["text"] == clauses.normalise_text(e["text"]), e["number"]


def test_forms_are_those_the_clauses_name():
    entries = read_catalogue()
    assert {e["number"]: e["form"] for e in entries if e["form"]} == EXPECTED_FORMS
    # A clause's form is the one its text cites, and a text that cites one has it.
    for e in entries:
        cited = re.findall(r"文件編號[：:\s]*(A-\d+)", e["text"])
        assert cited == ([e["form"]] if e["form"] else []), e["number"]


def test_modules_follow_the_design():
    entries = by_number()
    expected = {
        "1": "network", "1.1.4": "network", "1.2.2": "network",
        "2.1": "assets", "2.2.3": "assets", "2.3.2": "assets", "2.6": "assets",
        "2.4.1": "operations", "2.5.2": "operations",
        "2.7": "identity", "2.8": "identity", "2.9.3": "identity", "6.2": "identity",
        "2.10": "incidents", "2.10.2": "incidents", "2.10.11": "incidents",
        "3.1.3": "facilities", "3.2": "facilities", "3.4": "facilities",
        "3.5": "assets", "3.6.1": "assets", "4.3": "assets",
        "5.1": "vendors", "6.1.3": "vendors",
        "5.2.2": "awareness", "8": "awareness", "8.3": "awareness",
        "7.9": "privacy", "7.10": "privacy",
        "9": "compliance",
    }  # fmt: skip
    assert {n: entries[n]["module"] for n in expected} == expected
    # Only the headings whose sub-clauses DESIGN.md splits between apps have none.
    assert {n for n, e in entries.items() if not e["module"]} == {"2", "3", "5"}
    # A sub-clause sits in its heading's app unless the heading has none or it is 6.2.
    for n, e in entries.items():
        parent = entries.get(e["parent"]) if e["parent"] else None
        if parent and parent["module"] and n != "6.2":
            assert e["module"] == parent["module"], n


def test_misnumbered_items_of_3_6_say_so():
    entries = by_number()
    assert "「1.1.2」" in entries["3.6.1"]["text"]
    assert "「1.1.3」" in entries["3.6.2"]["text"]
    assert entries["1.1.2"]["parent"] == "1.1"


# Against the policy itself, when it is at hand ---------------------------------------------

needs_policy = pytest.mark.skipif(
    not POLICY_PATH.exists(), reason=f"policy not found at {POLICY_PATH}"
)


def policy_section() -> str:
    """Section 三、實施規定 of the policy, whitespace normalised, autolinks unwrapped."""
    text = POLICY_PATH.read_text(encoding="utf-8")
    start = text.index("## 三、實施規定")
    end = text.index("文件編號：A-1", start)
    section = re.sub(r"<(https?://[^>]+)>", r"\1", text[start:end])
    return clauses.normalise_text(section)


@needs_policy
def test_catalogue_numbers_are_the_policys():
    found = re.findall(r"^[\s#>*-]*(\d+(?:\.\d+)*)\.?(?=\s)", policy_section(), re.MULTILINE)
    numbers = []
    for number in found:
        if number in numbers:
            number = MISNUMBERED[number]  # any other repeat is a new mistake: KeyError
        numbers.append(number)
    assert numbers == EXPECTED_NUMBERS
    assert [e["number"] for e in read_catalogue()] == numbers


@needs_policy
def test_catalogue_texts_are_copied_from_the_policy():
    section = policy_section()
    for e in read_catalogue():
        for line in clauses.normalise_text(EDITORIAL.sub("", e["text"])).splitlines():
            line = line.removeprefix("- ")
            assert line in section, f"{e['number']}: {line!r} is not in the policy"


# Sort keys -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "key"),
    [("2", "0002"), ("2.9", "0002.0009"), ("2.10.1", "0002.0010.0001")],
)
def test_sort_key_pads_each_part(number, key):
    assert sort_key(number) == key


@pytest.mark.parametrize(
    ("before", "after"),
    [("2.9", "2.10"), ("2.10.2", "2.10.10"), ("2.9.3", "2.10"), ("2", "2.1"), ("7.9", "7.10")],
)
def test_sort_key_orders_numerically(before, after):
    assert sort_key(before) < sort_key(after)


# Validation ----------------------------------------------------------------------------


def toml(*tables: str) -> str:
    return "\n".join(f"[[clause]]\n{t}\n" for t in tables)


GOOD_HEADING = 'number = "1"\ntitle = "網路安全"\nmodule = "network"'


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(
            toml(GOOD_HEADING, GOOD_HEADING), "clause 1 (entry 2): number appears twice", id="dup"
        ),
        pytest.param(
            toml(
                GOOD_HEADING,
                'number = "1.01"\ntitle = "x"\nmodule = "network"',
                'number = "1.1"\ntitle = "y"\nmodule = "network"',
            ),
            "clause 1.1 (entry 3): number is the same clause as 1.01",
            id="dup-padded",
        ),
        pytest.param(
            toml(GOOD_HEADING, 'number = "1.2.1"\ntitle = "x"\nmodule = "network"'),
            "clause 1.2.1 (entry 2): parent clause 1.2 is missing",
            id="missing-parent",
        ),
        pytest.param(
            toml('number = "1.1"\ntitle = "x"\nmodule = "network"', GOOD_HEADING),
            "clause 1.1 (entry 1): parent clause 1 is missing or listed after it",
            id="parent-after-child",
        ),
        pytest.param(
            toml('number = "1"\ntitle = "x"\nmodule = "firewall"'),
            "clause 1 (entry 1): module 'firewall' is not one of",
            id="bad-module",
        ),
        pytest.param(
            toml('number = "1"\ntitle = "x"'),
            "clause 1 (entry 1): module is required",
            id="leaf-without-module",
        ),
        pytest.param(
            toml('number = "1."\ntitle = "x"\nmodule = "network"'),
            "entry 1: number '1.' is not like '2.4.1'",
            id="bad-number",
        ),
        pytest.param(
            toml('number = "1\\n"\ntitle = "x"\nmodule = "network"'),
            "entry 1: number '1\\n' is not like '2.4.1'",
            id="number-with-newline",
        ),
        pytest.param(
            toml('number = "１"\ntitle = "x"\nmodule = "network"'),
            "entry 1: number '１' is not like '2.4.1'",
            id="full-width-digit",
        ),
        pytest.param(
            toml('number = 1\ntitle = "x"\nmodule = "network"'),
            "entry 1: number 1 is not like '2.4.1'",
            id="number-not-a-string",
        ),
        pytest.param(
            toml('number = "1"\ntitle = "  "\nmodule = "network"'),
            "clause 1 (entry 1): title is empty",
            id="empty-title",
        ),
        pytest.param(
            toml(f'number = "1"\ntitle = "{"長" * 201}"\nmodule = "network"'),
            "clause 1 (entry 1): title is longer than 200",
            id="long-title",
        ),
        pytest.param(
            toml('number = "1"\ntitle = "x"\nmodule = "network"\nform = "B-1"'),
            "clause 1 (entry 1): form 'B-1' is not like 'A-1'",
            id="bad-form",
        ),
        pytest.param(
            toml('number = "1"\ntitle = "x"\nmodule = "network"\nmodul = "assets"'),
            "clause 1 (entry 1): unknown keys ['modul']",
            id="unknown-key",
        ),
        pytest.param(
            toml('number = "1"\ntitle = "x"\nmodule = "network"\ntext = 3'),
            "clause 1 (entry 1): text must be a string",
            id="text-not-a-string",
        ),
        pytest.param('[[clause]]\nnumber = "1\n', "not valid TOML", id="bad-toml"),
        pytest.param("", "no [[clause]] tables", id="empty"),
    ],
)
def test_a_bad_catalogue_is_refused_naming_the_clause(tmp_path, content, message):
    path = tmp_path / "clauses.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(message)):
        read_catalogue(path)


def test_a_heading_may_leave_the_module_to_its_sub_clauses(tmp_path):
    path = tmp_path / "clauses.toml"
    path.write_text(
        toml(
            'number = "2"\ntitle = "系統安全"',
            'number = "2.1"\ntitle = "設備區隔"\nmodule = "assets"\ntext = "  a \\n\\n  b  c "',
        ),
        encoding="utf-8",
    )
    entries = read_catalogue(path)
    assert [(e["number"], e["module"], e["parent"]) for e in entries] == [
        ("2", "", None),
        ("2.1", "assets", "2"),
    ]
    assert entries[1]["text"] == "a\nb c"


# Loading into the database -------------------------------------------------------------


@pytest.fixture
def Clause():
    from isms.compliance.models import Clause

    return Clause


@pytest.fixture
def AuditEntry():
    from isms.audit.models import AuditEntry

    return AuditEntry


@pytest.fixture
def empty(Clause):
    """No clauses stored (migrate has loaded them into the test database already)."""
    # Children protect their parents: cut the links first; a test fixture may bypass save().
    Clause.objects.update(parent=None)
    Clause.objects.all().delete()


@pytest.mark.django_db
def test_migrate_loads_the_catalogue(Clause):
    assert set(EXPECTED_NUMBERS) <= set(Clause.objects.values_list("number", flat=True))


@pytest.mark.django_db
def test_first_load_creates_every_clause_with_its_parent(Clause, AuditEntry, empty):
    before = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
    assert load_catalogue() == {"created": 86, "updated": 0, "unchanged": 0}
    assert list(Clause.objects.values_list("number", flat=True)) == EXPECTED_NUMBERS
    clause = Clause.objects.select_related("parent__parent").get(number="2.4.1")
    assert (clause.parent.number, clause.parent.parent.number) == ("2.4", "2")
    assert clause.parent.parent.parent is None
    assert (clause.title, clause.module) == ("每週備份", "operations")
    assert clause.sort_key == "0002.0004.0001"
    assert Clause.objects.get(number="6.1.3").form == "A-10"
    entries = AuditEntry.objects.filter(id__gt=before)
    assert entries.count() == 86
    assert set(entries.values_list("model_label", "action", "actor_label")) == {
        ("compliance.clause", "create", "system:clauses")
    }


@pytest.mark.django_db
def test_ordering_is_numeric(Clause):
    numbers = list(Clause.objects.filter(number__startswith="2.").values_list("number", flat=True))
    assert numbers.index("2.9.3") < numbers.index("2.10") < numbers.index("2.10.1")
    assert numbers.index("2.10.2") < numbers.index("2.10.10")


@pytest.mark.django_db
def test_a_second_load_changes_nothing(AuditEntry):
    load_catalogue()
    before = AuditEntry.objects.count()
    assert load_catalogue() == {"created": 0, "updated": 0, "unchanged": 86}
    assert AuditEntry.objects.count() == before


@pytest.mark.django_db
def test_load_restores_the_catalogues_fields_and_creates_missing_clauses(Clause, AuditEntry):
    load_catalogue()
    Clause.objects.filter(number="9").delete()
    Clause.objects.filter(number="2.4.1").update(title="舊標題", module="assets", form="A-9")
    latest = AuditEntry.objects.order_by("-id").first().id
    assert load_catalogue() == {"created": 1, "updated": 1, "unchanged": 84}
    clause = Clause.objects.get(number="2.4.1")
    assert (clause.title, clause.module, clause.form) == ("每週備份", "operations", "")
    update = AuditEntry.objects.get(id__gt=latest, action="update")
    assert update.object_id == str(clause.pk) and update.actor_label == "system:clauses"
    assert update.changes == {
        "title": ["舊標題", "每週備份"],
        "module": ["assets", "operations"],
        "form": ["A-9", ""],
    }


@pytest.mark.django_db
def test_a_schools_revised_text_survives_a_reload_unless_replaced(Clause):
    load_catalogue()
    clause = Clause.objects.get(number="2.4.1")
    original = clause.text
    clause.text = "系統管理人員應每日備份重要系統。"  # revised by the school (clause 9)
    clause.save()
    assert load_catalogue() == {"created": 0, "updated": 0, "unchanged": 86}
    assert Clause.objects.get(number="2.4.1").text == "系統管理人員應每日備份重要系統。"
    assert load_catalogue(update_text=True) == {"created": 0, "updated": 1, "unchanged": 85}
    assert Clause.objects.get(number="2.4.1").text == original


@pytest.mark.django_db
def test_an_empty_text_is_filled_in(Clause):
    load_catalogue()
    Clause.objects.filter(number="2.5.2").update(text="")
    assert load_catalogue()["updated"] == 1
    assert Clause.objects.get(number="2.5.2").text == "系統管理人員應至少每季執行一次校時。"


@pytest.mark.django_db
def test_a_schools_own_clauses_are_left_alone(Clause):
    load_catalogue()
    nine = Clause.objects.get(number="9")
    Clause.objects.create(number="9.1", title="學校自訂", parent=nine, sort_key=sort_key("9.1"))
    assert load_catalogue()["unchanged"] == 86
    assert Clause.objects.filter(number="9.1", title="學校自訂").exists()


@pytest.mark.django_db
def test_after_migrate_skips_until_the_table_exists(monkeypatch):
    from django.db import connection

    def must_not_run(**kwargs):
        raise AssertionError("loaded before the table exists")

    monkeypatch.setattr(clauses, "load_catalogue", must_not_run)
    monkeypatch.setattr(
        connection.introspection, "table_names", lambda *a, **k: ["audit_chainhead"]
    )
    clauses.load_after_migrate(using="default", verbosity=0)


@pytest.mark.django_db
def test_after_migrate_loads_and_reports(Clause, empty):
    out = io.StringIO()
    clauses.load_after_migrate(using="default", verbosity=1, stdout=out)
    assert Clause.objects.count() == 86
    assert out.getvalue() == "Policy clauses: 86 created, 0 updated, 0 unchanged\n"


@pytest.mark.django_db
def test_command_prints_the_counts(Clause):
    load_catalogue()
    out = io.StringIO()
    call_command("load_clauses", stdout=out)
    assert out.getvalue().strip() == "Policy clauses: 0 created, 0 updated, 86 unchanged"
    Clause.objects.filter(number="2.5.2").update(text="學校修訂")
    out = io.StringIO()
    call_command("load_clauses", "--update-text", stdout=out)
    assert out.getvalue().strip() == "Policy clauses: 0 created, 1 updated, 85 unchanged"
