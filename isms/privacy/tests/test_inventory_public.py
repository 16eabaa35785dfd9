"""The public page of the inventory (7.1; PDPA art. 17): anyone may read it without signing
in; it lists the four items of every published file in use and nothing of the others; an
internal or voided file is a 404 citing art. 17; the embeddable version is the one
frameable page; the JSON is open to any website (CORS) with ETag and Last-Modified; every
answer follows the inventory at once."""

import datetime as dt
import json

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import resolve

from isms.core.models import SchoolProfile
from isms.core.roles import SECURITY_OFFICER
from isms.privacy import inventory
from isms.privacy.models import PersonalDataFile

from .test_inventory import ART17, NOW, SCHOOL, category, make_file, purpose, unit

pytestmark = pytest.mark.django_db

Visibility = PersonalDataFile.Visibility
PAGE = "/privacy/public/"
EMBED = "/privacy/public/embed/"
JSON_URL = "/api/personal-data-files/public/"


@pytest.fixture(autouse=True)
def _school():
    profile = SchoolProfile.load()
    profile.name = SCHOOL
    profile.save()


@pytest.fixture
def officer(make_user):
    return make_user("officer", SECURITY_OFFICER)


@pytest.fixture
def files():
    registry = unit(name="教務處註冊組", phone="02-2971-5606#201")
    public = make_file(
        name="學籍資料",
        unit=registry,
        legal_basis="高級中等教育法第 43 條",
        purposes=[purpose(), purpose("158", "學生（員）（含畢、結業生）資料管理")],
        categories=[category(), category("C051", "學校紀錄")],
        purpose_note="學籍管理及證明書核發",
        contact_email="reg@kpvs.edu.tw",
    )
    internal = make_file(
        name="學生輔導紀錄",
        visibility=Visibility.INTERNAL,
        internal_reason="依政府資訊公開法第 18 條第 1 項第 6 款不予公開。",
        legal_basis="學生輔導法第 9 條",
    )
    voided = make_file(name="舊版學籍卡", voided_at=NOW, void_reason="已移入新系統")
    return {"public": public, "internal": internal, "voided": voided}


# The page -------------------------------------------------------------------------------------
def test_anyone_reads_the_public_page_with_the_four_items(client, files):
    response = client.get(PAGE)
    assert response.status_code == 200
    page = response.content.decode()
    for text in (
        SCHOOL,
        "個人資料檔案名稱",
        "保有機關名稱及聯絡方式",
        "保有之依據及特定目的",
        "個人資料之類別",
        "學籍資料",
        f"{SCHOOL}教務處註冊組",
        "02-2971-5606#201",
        "reg@kpvs.edu.tw",
        "高級中等教育法第 43 條",
        "109 教育或訓練行政",
        "158 學生（員）（含畢、結業生）資料管理",
        "學籍管理及證明書核發",
        "C001 辨識個人者",
        "C051 學校紀錄",
        "最後更新",
        ART17,
    ):
        assert text in page, text
    assert "學生輔導紀錄" not in page and "學生輔導法" not in page
    assert "舊版學籍卡" not in page
    assert "測試" not in page  # no contact person's name, no signed-in menu
    assert 'href="/logout/"' not in page and "navbar" not in page


def test_the_public_page_is_not_frameable_but_the_embed_is(client, files):
    assert client.get(PAGE)["X-Frame-Options"] == "DENY"
    embed = client.get(EMBED)
    assert embed.status_code == 200
    assert "X-Frame-Options" not in embed
    page = embed.content.decode()
    assert "學籍資料" in page and "學生輔導紀錄" not in page
    assert "<header" not in page and 'target="_blank"' in page
    # Only the embed: the file's page and the JSON keep the default.
    assert client.get(f"/privacy/public/{files['public'].pk}/")["X-Frame-Options"] == "DENY"


def test_one_published_file_has_its_own_page(client, files):
    response = client.get(f"/privacy/public/{files['public'].pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "學籍資料" in page and "高級中等教育法第 43 條" in page and "C051 學校紀錄" in page


@pytest.mark.parametrize("which", ["internal", "voided"])
def test_an_internal_or_voided_file_is_a_404_that_shows_nothing_of_it(client, files, which):
    file = files[which]
    response = client.get(f"/privacy/public/{file.pk}/")
    assert response.status_code == 404
    page = response.content.decode()
    assert ART17 in page and "未公開" in page
    assert file.name not in page and file.legal_basis not in page
    # An unknown id reads the same: nothing tells whether the file exists.
    unknown = client.get("/privacy/public/987654/").content.decode()
    assert unknown == page


def test_the_page_follows_the_inventory_at_once(client, files, officer):
    first = client.get(PAGE)
    etag = first["ETag"]
    file = files["public"]
    file.name = "學生學籍資料"
    inventory.save_file(file, actor=officer)
    second = client.get(PAGE)
    assert "學生學籍資料" in second.content.decode()
    assert second["ETag"] != etag
    # Made internal: gone from the page and from its own address.
    file.visibility = Visibility.INTERNAL
    file.internal_reason = "依政府資訊公開法第 18 條第 1 項第 6 款不予公開。"
    inventory.save_file(file, actor=officer)
    assert "學生學籍資料" not in client.get(PAGE).content.decode()
    assert client.get(f"/privacy/public/{file.pk}/").status_code == 404
    assert "學生學籍資料" not in json.dumps(client.get(JSON_URL).json(), ensure_ascii=False)


def test_the_page_answers_304_when_nothing_changed(client, files):
    first = client.get(PAGE)
    assert first["Cache-Control"] == "no-cache"
    assert "Last-Modified" in first
    again = client.get(PAGE, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""


def test_the_last_update_is_the_latest_change_or_review(client, officer):
    with time_machine.travel(dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC), tick=False):
        file = make_file(name="學籍資料")
    page = client.get(PAGE).content.decode()
    assert "民國115年3月2日" in page
    with time_machine.travel(dt.datetime(2026, 11, 28, 6, 0, tzinfo=dt.UTC), tick=False):
        inventory.review_file(file, actor=officer, note="無變動")
    page = client.get(PAGE).content.decode()
    assert "民國115年11月28日" in page
    with time_machine.travel(dt.datetime(2026, 12, 5, 6, 0, tzinfo=dt.UTC), tick=False):
        inventory.void_file(file, actor=officer, reason="停止保有")
    page = client.get(PAGE).content.decode()
    assert "民國115年12月5日" in page and "目前沒有公開的個人資料檔案" in page


def test_the_public_page_keeps_a_constant_query_count(client):
    make_file()
    with CaptureQueriesContext(connection) as few:
        assert client.get(PAGE).status_code == 200
    for _ in range(20):
        make_file()
    with CaptureQueriesContext(connection) as many:
        assert client.get(PAGE).status_code == 200
    assert len(many) == len(few) <= 8


def test_the_public_pages_declare_they_need_no_sign_in():
    for url in (PAGE, EMBED, "/privacy/public/1/", JSON_URL):
        callback = resolve(url).func
        view_class = getattr(callback, "view_class", None)
        assert getattr(callback, "isms_public", False) or getattr(view_class, "isms_public", False)
    # The records' own routes stay behind the matrix.
    assert not getattr(resolve("/api/personal-data-files/").func, "isms_public", False)
    assert not getattr(resolve("/api/personal-data-files/1/").func, "isms_public", False)


# The JSON -------------------------------------------------------------------------------------
def test_the_json_is_open_to_any_website_with_the_four_items(client, files):
    response = client.get(JSON_URL)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "ETag" in response["Access-Control-Expose-Headers"]
    data = response.json()
    assert data["school"] == SCHOOL and data["count"] == 1
    assert data["page_url"].endswith(PAGE) and data["updated_at"]
    (entry,) = data["files"]
    assert entry["name"] == "學籍資料"
    assert entry["agency"] == SCHOOL and entry["unit"] == "教務處註冊組"
    assert entry["phone"] == "02-2971-5606#201" and entry["email"] == "reg@kpvs.edu.tw"
    assert entry["legal_basis"] == "高級中等教育法第 43 條"
    assert entry["purposes"][0] == {"code": "109", "name": "教育或訓練行政"}
    assert entry["categories"][1] == {"code": "C051", "name": "學校紀錄"}
    assert entry["url"].endswith(f"/privacy/public/{files['public'].pk}/")
    assert "contact_name" not in entry and "internal_reason" not in entry


def test_the_json_has_no_suffix_route(client, files):
    # The API serves JSON only, without ``.json`` routes (see core.restapi.Router).
    assert client.get("/api/personal-data-files/public.json").status_code == 404


def test_the_json_route_is_not_taken_for_a_files_id(client, files, client_for):
    assert resolve(JSON_URL).url_name != resolve("/api/personal-data-files/1/").url_name
    # A signed-in caller gets the same public list (internal files only in the register).
    from isms.core import services

    c = client_for(SECURITY_OFFICER)
    _token, key = services.token_create(user=c.user, name="t", actor=c.user)
    signed = client.get(JSON_URL, HTTP_AUTHORIZATION=f"Token {key}")
    assert signed.status_code == 200 and signed.json()["count"] == 1
    bad_token = client.get(JSON_URL, HTTP_AUTHORIZATION="Token isms_nonsense")
    assert bad_token.status_code == 200  # no authentication is read on this route


def test_the_json_answers_304_to_a_known_etag_or_date(client, files, officer):
    first = client.get(JSON_URL)
    etag, modified = first["ETag"], first["Last-Modified"]
    again = client.get(JSON_URL, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again["Access-Control-Allow-Origin"] == "*"
    assert client.get(JSON_URL, HTTP_IF_MODIFIED_SINCE=modified).status_code == 304
    file = files["public"]
    file.legal_basis = "高級中等教育法第 43 條；學籍管理辦法"
    with time_machine.travel(dt.datetime.now(tz=dt.UTC) + dt.timedelta(minutes=2)):
        inventory.save_file(file, actor=officer)
    changed = client.get(JSON_URL, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert client.get(JSON_URL, HTTP_IF_MODIFIED_SINCE=modified).status_code == 200


def test_the_json_answers_a_cors_preflight(client):
    response = client.options(
        JSON_URL,
        HTTP_ORIGIN="https://www.kpvs.ntpc.edu.tw",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="if-none-match",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "If-None-Match" in response["Access-Control-Allow-Headers"]


def test_the_json_is_read_only(client):
    for method in (client.post, client.put, client.patch, client.delete):
        assert method(JSON_URL).status_code in (401, 405)


# The file's page: the public address and the snippet ---------------------------------------------
def test_the_files_page_gives_the_public_address_and_the_snippet(client_for, files, settings):
    settings.ISMS_BASE_URL = "https://isms.kpvs.ntpc.edu.tw"
    c = client_for(SECURITY_OFFICER)
    page = c.get(files["public"].get_absolute_url()).content.decode()
    assert "https://isms.kpvs.ntpc.edu.tw/privacy/public/" in page
    assert f"https://isms.kpvs.ntpc.edu.tw/privacy/public/{files['public'].pk}/" in page
    assert "&lt;iframe src=&quot;https://isms.kpvs.ntpc.edu.tw/privacy/public/embed/" in page
    internal = c.get(files["internal"].get_absolute_url()).content.decode()
    assert "此檔案不公開" in internal
    assert f"/privacy/public/{files['internal'].pk}/" not in internal
