"""Translations: compiled catalogues up to date, English UI complete, API errors in zh-Hant."""

import ast
import gettext
import importlib.util
import io
import re
import sys
import tokenize
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation
from django.utils.translation import trans_real
from django.utils.translation.template import templatize

ROOT = Path(__file__).resolve().parents[3]
ISMS = ROOT / "isms"
LOCALE = ISMS / "locale"
SITE = Path(translation.__file__).resolve().parents[3]  # site-packages


def _load_compiler():
    spec = importlib.util.spec_from_file_location(
        "compile_messages", ROOT / "scripts" / "compile_messages.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


compile_messages = _load_compiler()


def mo_catalog(data: bytes) -> dict:
    return gettext.GNUTranslations(io.BytesIO(data))._catalog


def en_catalog() -> dict:
    return mo_catalog((LOCALE / "en" / "LC_MESSAGES" / "django.mo").read_bytes())


PO_FILES = sorted(LOCALE.glob("*/LC_MESSAGES/*.po"))


# --- (a) the committed .mo files are what the .po files compile to -----------------------


def test_there_are_catalogues_for_every_language_but_the_source_one():
    assert [p.relative_to(LOCALE).parts[0] for p in PO_FILES] == ["en", "zh_Hant"]
    assert Path(settings.LOCALE_PATHS[0]).resolve() == LOCALE


@pytest.mark.parametrize("po", PO_FILES, ids=lambda p: p.relative_to(LOCALE).parts[0])
def test_committed_mo_is_compiled_from_the_po(po, tmp_path):
    """A forgotten `python scripts/compile_messages.py` after editing a .po fails here."""
    assert compile_messages.main([str(po), "-o", str(tmp_path)]) == 0
    fresh = (tmp_path / "django.mo").read_bytes()
    committed = po.with_suffix(".mo").read_bytes()
    assert mo_catalog(fresh) == mo_catalog(committed), "run: python scripts/compile_messages.py"
    assert fresh == committed, "run: python scripts/compile_messages.py"


def test_check_mode_reports_a_stale_mo(tmp_path):
    po = tmp_path / "django.po"
    po.write_text(
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "人員"\nmsgstr "Person"\n',
        encoding="utf-8",
    )
    assert compile_messages.main([str(po), "--check"]) == 1  # no .mo yet
    assert compile_messages.main([str(po)]) == 0
    assert compile_messages.main([str(po), "--check"]) == 0
    po.write_text(po.read_text(encoding="utf-8").replace("Person", "People"), encoding="utf-8")
    assert compile_messages.main([str(po), "--check"]) == 1


def test_compiler_handles_contexts_plurals_continuations_escapes_and_fuzzy():
    po = r"""# header
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\n"

#: a.py:1
msgid "簡單"
msgstr "Simple"

msgctxt "按鈕"
msgid "儲存"
msgstr "Save"

msgid "儲存"
msgstr "Store"

#, python-format
msgid "共 %(n)s 筆"
msgid_plural "共 %(n)s 筆"
msgstr[0] "%(n)s record"
msgstr[1] "%(n)s records"

msgid ""
"多行"
"字串"
msgstr ""
"Tab\there, \"quoted\", back\\slash,\n"
"second line"

#, fuzzy
msgid "模糊"
msgstr "Fuzzy"

msgid "未翻譯"
msgstr ""

msgid "只譯一半"
msgid_plural "只譯一半"
msgstr[0] "half"
msgstr[1] ""

#~ msgid "過時"
#~ msgstr "Obsolete"
"""
    entries = compile_messages.parse_po(po)
    t = gettext.GNUTranslations(
        io.BytesIO(compile_messages.build_mo(compile_messages.messages(entries)))
    )
    assert t.gettext("簡單") == "Simple"
    assert t.pgettext("按鈕", "儲存") == "Save"
    assert t.gettext("儲存") == "Store"
    assert t.ngettext("共 %(n)s 筆", "共 %(n)s 筆", 1) == "%(n)s record"
    assert t.ngettext("共 %(n)s 筆", "共 %(n)s 筆", 5) == "%(n)s records"
    assert t.gettext("多行字串") == 'Tab\there, "quoted", back\\slash,\nsecond line'
    for left_out in ("模糊", "未翻譯", "只譯一半", "過時"):
        assert left_out not in t._catalog
    assert t.info()["content-type"] == "text/plain; charset=UTF-8"


@pytest.mark.parametrize(
    "po",
    [
        "django/conf/locale/zh_Hant/LC_MESSAGES/django.po",
        "django/conf/locale/ru/LC_MESSAGES/django.po",
        "django/conf/locale/ar/LC_MESSAGES/django.po",
        "django/contrib/admin/locale/zh_Hant/LC_MESSAGES/djangojs.po",
    ],
)
def test_compiler_agrees_with_msgfmt_on_djangos_catalogues(po):
    """Django's .mo files are built by GNU msgfmt: ours must hold the same messages."""
    source = SITE / po
    mine = mo_catalog(compile_messages.compile_po(source))
    theirs = mo_catalog(source.with_suffix(".mo").read_bytes())
    mine.pop("")
    theirs.pop("")
    assert mine == theirs


_PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[sdfr]|%[sd]|\{[\w:]+\}")


@pytest.mark.parametrize("po", PO_FILES, ids=lambda p: p.relative_to(LOCALE).parts[0])
def test_translations_keep_every_placeholder(po):
    for e in compile_messages.parse_po(po.read_text(encoding="utf-8")):
        if e.obsolete or e.is_header or not e.translated:
            continue
        wanted = sorted(_PLACEHOLDER.findall(e.msgid))
        for text in e.msgstr.values():
            assert sorted(_PLACEHOLDER.findall(text)) == wanted, (e.msgid, text)


# --- (b) the English UI ------------------------------------------------------------------


@pytest.mark.django_db
def test_sign_in_page_in_english_and_in_chinese(client):
    # An English browser still gets the school's language until English is chosen.
    default = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="zh-Hant">' in default and "登入" in default
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    assert response.status_code == 302
    en = client.get("/login/").content.decode()
    assert '<html lang="en">' in en
    assert "Sign in" in en and "Campus ISMS" in en
    assert "Forgot your password? Please contact the system administrator." in en
    assert "登入" not in en and "校園資安管理平台" not in en

    client.post("/i18n/setlang/", {"language": "zh-hant", "next": "/login/"})
    zh = client.get("/login/").content.decode()  # LANGUAGE_CODE: zh-hant
    assert '<html lang="zh-Hant">' in zh
    assert "登入" in zh and "忘記通行碼請洽系統管理人員。" in zh and "Sign in" not in zh
    zh_tw = client.get("/login/", HTTP_ACCEPT_LANGUAGE="zh-TW,zh;q=0.9,en;q=0.5").content
    assert "忘記通行碼請洽系統管理人員。" in zh_tw.decode()


@pytest.mark.django_db
def test_signed_in_pages_in_english(client_for):
    c = client_for("security_officer")
    c.cookies["django_language"] = "en"
    home = c.get("/").content.decode()
    assert "My functions" in home and "Sign out" in home and "Change password" in home
    people = c.get("/core/person/").content.decode()
    assert "Add Person" in people and "Export CSV" in people and "1 record" in people
    tokens = c.get("/core/tokens/").content.decode()
    assert "My API keys" in tokens and "No API keys yet." in tokens


def test_python_strings_in_english():
    from isms.core.models import Person
    from isms.core.passwords import password_violations

    with translation.override("en"):
        assert str(Person._meta.verbose_name) == "Person"
        assert str(Person._meta.get_field("onboard_date").verbose_name) == "Start date"
        assert any("letters" in v.message for v in password_violations("12345678"))
    with translation.override("zh-hant"):
        assert str(Person._meta.verbose_name) == "人員"


# --- (c) API errors in zh-Hant -----------------------------------------------------------


@pytest.mark.django_db
def test_drf_validation_error_is_chinese(client_for):
    c = client_for()
    response = c.post(
        "/api/password-check/",
        {"password": "x", "username": ["a"]},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json() == {"username": ["不是有效的字串。"]}  # DRF: "Not a valid string."
    c.cookies["django_language"] = "en"
    english = c.post(
        "/api/password-check/",
        {"password": "x", "username": ["a"]},
        content_type="application/json",
    )
    assert english.json() == {"username": ["Not a valid string."]}


@pytest.mark.django_db
def test_drf_authentication_error_is_chinese(client):
    response = client.get("/api/people/")
    assert response.status_code in (401, 403)
    assert response.json()["detail"] == "未提供身分驗證資訊。"


def _catalogue_msgids(mo: Path) -> set[str]:
    return {k for k in mo_catalog(mo.read_bytes()) if isinstance(k, str) and k}


def _zh_hant_has(msgid: str) -> bool:
    return msgid in trans_real.translation("zh-hant")._catalog


def test_every_drf_message_has_a_zh_hant_translation():
    """DRF's zh_Hant catalogue has ~55 of its messages; isms/locale/zh_Hant adds the rest."""
    drf = _catalogue_msgids(SITE / "rest_framework/locale/en/LC_MESSAGES/django.mo")
    assert len(drf) > 100
    missing = sorted(m for m in drf if not _zh_hant_has(m))
    assert not missing, missing


def test_every_django_filter_message_has_a_zh_hant_translation():
    po = SITE / "django_filters/locale/de/LC_MESSAGES/django.po"
    entries = compile_messages.parse_po(po.read_text(encoding="utf-8"))
    msgids = {e.msgid for e in entries if e.msgid and not e.obsolete}
    assert len(msgids) > 30
    missing = sorted(m for m in msgids if not _zh_hant_has(m))
    assert not missing, missing


# --- (d) every string of the project has an English translation --------------------------


def template_msgids() -> set[str | tuple[str, str]]:
    """The msgids makemessages finds in the templates (plural ones as (singular, plural))."""
    found: set[str | tuple[str, str]] = set()
    for path in sorted((ISMS / "templates").rglob("*.html")):
        code = templatize(path.read_text(encoding="utf-8"), origin=str(path))
        tokens = [
            t
            for t in tokenize.generate_tokens(io.StringIO(code).readline)
            if t.type in (tokenize.NAME, tokenize.STRING, tokenize.OP)
        ]
        for i, tok in enumerate(tokens):
            if tok.type != tokenize.NAME or not tok.string.endswith("gettext"):
                continue
            args = []
            for t in tokens[i + 2 :]:
                if t.type == tokenize.STRING:
                    args.append(ast.literal_eval(t.string))
                elif t.string == ")":
                    break
            if tok.string.startswith("p"):  # pgettext(context, msgid), npgettext(...)
                args = args[1:]
            found.add(tuple(args[:2]) if tok.string.startswith(("n", "pn", "np")) else args[0])
    return found


_GETTEXT_NAMES = {"_", "gettext", "gettext_lazy", "gettext_noop"}


def python_msgids() -> set[str]:
    """The literal msgids of gettext calls in the product's Python code."""
    found = set()
    for path in sorted(ISMS.rglob("*.py")):
        if {"tests", "migrations", "e2e"} & set(path.relative_to(ISMS).parts):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in _GETTEXT_NAMES
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.add(node.args[0].value)
    return found


def _untranslated(msgids) -> list:
    catalog = en_catalog()
    missing = []
    for msgid in msgids:
        key = (msgid[0], 0) if isinstance(msgid, tuple) else msgid
        if not catalog.get(key):
            missing.append(msgid)
    return sorted(missing, key=str)


HOW_TO_FIX = (
    "untranslated; run makemessages, translate in isms/locale/en/LC_MESSAGES/django.po and "
    "run python scripts/compile_messages.py (docs/translations.md)"
)


def test_every_template_string_has_an_english_translation():
    msgids = template_msgids()
    assert len(msgids) > 100
    assert "登入" in msgids and ("共 %(counter)s 筆", "共 %(counter)s 筆") in msgids
    missing = _untranslated(msgids)
    assert not missing, (HOW_TO_FIX, missing)


def test_every_python_string_has_an_english_translation():
    msgids = python_msgids()
    assert len(msgids) > 100
    missing = _untranslated(msgids)
    assert not missing, (HOW_TO_FIX, missing)


def test_templates_show_no_chinese_outside_translate_tags():
    """A new literal in a template must go through {% translate %} (punctuation aside)."""
    cjk = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
    for path in sorted((ISMS / "templates").rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"{% blocktranslate.*?{% endblocktranslate %}", "", text, flags=re.S)
        text = re.sub(r"{% translate .*?%}", "", text)
        text = re.sub(r"{#.*?#}", "", text)
        assert not cjk.search(text), (path.name, cjk.findall(text))
