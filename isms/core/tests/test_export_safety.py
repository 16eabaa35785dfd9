"""Exports keep formula-like text as text (CSV injection), in CSV and in XLSX."""

import csv
import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from isms.core.generic import csv_safe
from isms.core.models import Person
from isms.core.roles import SECURITY_OFFICER

EVIL = '=HYPERLINK("http://evil.example/","x")'


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+886-2-1234", "'+886-2-1234"),
        ("-3", "'-3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("陳怡君", "陳怡君"),
        ("a=b", "a=b"),
        ("", ""),
        (3, 3),
    ],
)
def test_csv_cells_that_start_like_a_formula_are_prefixed(cell, expected):
    assert csv_safe([cell]) == [expected]


@pytest.mark.django_db
def test_register_exports_keep_formulas_as_text(client_for):
    Person.objects.create(name=EVIL)
    client = client_for(SECURITY_OFFICER)
    url = reverse("core:person_export")
    text = b"".join(client.get(url, {"format": "csv"}).streaming_content).decode()
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert ["'" + EVIL] in [r[:1] for r in rows]
    book = load_workbook(io.BytesIO(client.get(url, {"format": "xlsx"}).content))
    cells = [c for row in book.active.iter_rows() for c in row if c.value == EVIL]
    assert cells and all(c.data_type == "s" for c in cells)
