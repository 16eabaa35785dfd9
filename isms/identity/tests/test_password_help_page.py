"""通行碼小幫手 (/identity/password-help/): for everyone signed in; nothing typed is kept."""

import logging

import pytest
from django.urls import reverse

from isms.audit.models import AuditEntry
from isms.core import passwords
from isms.core.roles import ALL_ROLES
from isms.identity import passwordhint

URL = "/identity/password-help/"
# Distinctive inputs, so that finding them anywhere means they were echoed or kept.
GOOD_SECRET = "Vq8#Lmz2Rtp!Wx"
BAD_SECRET = "qwertyui7Zeta"


@pytest.fixture(autouse=True)
def no_signin_words(monkeypatch, settings):
    settings.ISMS_PASSWORD_HOSTNAMES = []
    monkeypatch.setattr(passwords, "signin_screen_words", lambda: frozenset())


@pytest.fixture
def staff(client_for):
    return client_for("staff")


def page(client, **data):
    return client.post(URL, data)


def htmx(client, **data):
    return client.post(URL, data, headers={"HX-Request": "true"})


def test_the_url_has_its_name():
    assert reverse("identity:password_help") == URL


# --- who may use it ---------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("roles", [(), *[(r,) for r in sorted(ALL_ROLES)]], ids=str)
def test_every_role_and_no_role_may_use_it(client_for, roles):
    c = client_for(*roles)
    response = c.get(URL)
    assert response.status_code == 200
    assert response.status_code == page(c, mode="zhuyin", phrase="通行碼").status_code


@pytest.mark.django_db
def test_a_superuser_may_use_it(client_for):
    assert client_for(superuser=True).get(URL).status_code == 200


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_sign_in(client):
    for response in (client.get(URL), client.post(URL, {"mode": "check", "password": "x"})):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
        assert "x" not in response["Location"].split("?next=")[0][len(reverse("login")) :]


@pytest.mark.django_db
def test_anonymous_posts_are_not_checked(client):
    response = client.post(URL, {"mode": "check", "password": GOOD_SECRET})
    assert GOOD_SECRET not in response["Location"]


@pytest.mark.django_db
def test_it_is_in_the_menu_for_everyone(client_for):
    home = client_for("guard").get("/").content.decode()
    assert URL in home and "通行碼小幫手" in home


# --- the page ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_page_has_the_three_forms_posting_to_itself(staff):
    html = staff.get(URL).content.decode()
    assert html.count('method="post"') >= 3
    assert 'autocomplete="new-password"' in html and 'type="password"' in html
    assert 'name="mode" value="check"' in html
    assert 'name="mode" value="initials"' in html
    assert 'name="mode" value="zhuyin"' in html
    assert "wj/ vu/6a83" in html  # A-5's example is explained
    assert 'spellcheck="false"' in html


@pytest.mark.django_db
def test_it_is_never_cached(staff):
    for response in (staff.get(URL), page(staff, mode="check", password=GOOD_SECRET)):
        cache_control = response["Cache-Control"]
        for directive in ("no-cache", "no-store", "must-revalidate", "private"):
            assert directive in cache_control


@pytest.mark.django_db
def test_the_posted_fields_are_hidden_from_error_reports(staff):
    response = page(staff, mode="check", password=GOOD_SECRET)
    assert set(response.wsgi_request.sensitive_post_parameters) == {
        "password",
        "sentence",
        "phrase",
    }


@pytest.mark.django_db
def test_a_get_with_a_password_in_the_url_is_sent_to_the_bare_page(staff):
    response = staff.get(URL, {"mode": "check", "password": BAD_SECRET})
    assert response.status_code == 302 and response["Location"] == URL
    assert BAD_SECRET not in response.content.decode()


@pytest.mark.django_db
def test_an_unknown_mode_is_refused(staff):
    assert page(staff, mode="steal", password=GOOD_SECRET).status_code == 400


# --- checking a password ----------------------------------------------------------------


@pytest.mark.django_db
def test_a_good_password_is_accepted(staff):
    response = page(staff, mode="check", password=GOOD_SECRET)
    assert response.status_code == 200
    assert "符合學校的通行碼規則" in response.content.decode()


@pytest.mark.django_db
def test_a_bad_password_is_explained_in_plain_chinese(staff):
    html = page(staff, mode="check", password=BAD_SECRET).content.decode()
    keyboard = passwords.password_violations(BAD_SECRET)
    assert [v.code for v in keyboard] == ["keyboard_run"]
    assert keyboard[0].message in html
    assert str(passwordhint.EXPLANATIONS["keyboard_run"]) in html


@pytest.mark.django_db
def test_the_check_uses_ones_own_account_name_and_data(client_for):
    c = client_for("staff", first_name="Hsiaoming")
    name = c.user.get_username()
    html = page(c, mode="check", password=f"{name}Xq8#").content.decode()
    assert str(passwords.MESSAGES["username"]) in html
    html = page(c, mode="check", password="Hsiaoming#8Qz").content.decode()
    assert str(passwords.MESSAGES["personal_info"]) in html


@pytest.mark.django_db
def test_an_empty_password_is_a_form_error(staff):
    response = page(staff, mode="check", password="")
    assert response.status_code == 400
    html = response.content.decode()
    assert "這個欄位是必須的" in html or "required" in html


@pytest.mark.django_db
@pytest.mark.parametrize("secret", [GOOD_SECRET, BAD_SECRET])
@pytest.mark.parametrize("use_htmx", [False, True])
def test_the_password_is_never_echoed_logged_or_stored(staff, caplog, secret, use_htmx):
    before = set(AuditEntry.objects.values_list("pk", flat=True))
    caplog.set_level(logging.DEBUG)
    post = htmx if use_htmx else page
    response = post(staff, mode="check", password=secret)
    assert response.status_code == 200
    body = response.content.decode()
    assert secret not in body
    assert secret.lower() not in body.lower()
    assert 'value="' + secret not in body
    assert secret not in caplog.text
    new = AuditEntry.objects.exclude(pk__in=before)
    assert not [e for e in new if secret in f"{e.changes} {e.message} {e.object_repr}"]
    assert not new.exists()  # checking writes nothing at all


@pytest.mark.django_db
def test_htmx_gets_the_result_alone(staff):
    response = htmx(staff, mode="check", password=BAD_SECRET)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and "<form" not in html
    assert str(passwordhint.EXPLANATIONS["keyboard_run"]) in html


# --- the two helpers --------------------------------------------------------------------


@pytest.mark.django_db
def test_the_zhuyin_helper_gives_the_policys_example(staff):
    html = page(staff, mode="zhuyin", phrase="通行碼").content.decode()
    assert "wj/␣vu/6a83" in html
    assert "ㄒㄧㄥˊ" in html  # the reading used, to be checked by the person
    assert "符合學校的通行碼規則" in html


@pytest.mark.django_db
def test_the_zhuyin_helper_reads_in_context(staff):
    assert "ㄏㄤˊ" in htmx(staff, mode="zhuyin", phrase="銀行").content.decode()


@pytest.mark.django_db
def test_the_zhuyin_helper_warns_when_the_result_breaks_the_policy(staff):
    html = htmx(staff, mode="zhuyin", phrase="我").content.decode()
    assert "不符合學校的通行碼規則" in html
    assert str(passwordhint.EXPLANATIONS["too_short"]) in html


@pytest.mark.django_db
def test_the_zhuyin_helper_refuses_characters_without_keys(staff):
    response = page(staff, mode="zhuyin", phrase="通行碼😀")
    assert response.status_code == 400
    assert "「😀」" in response.content.decode()
    assert htmx(staff, mode="zhuyin", phrase="通行碼😀").status_code == 200  # htmx swaps it


@pytest.mark.django_db
def test_the_initials_helper_offers_first_and_last_letters(staff):
    sentence = "Zebras jump over 17 quiet foxes at dawn"
    html = page(staff, mode="initials", sentence=sentence).content.decode()
    assert "Zjo1qfad" in html and "spr7tstn" in html
    assert "Zebras" not in html and "quiet" not in html  # the sentence is not repeated
    html = page(staff, mode="initials", sentence=sentence, whole_numbers="on").content.decode()
    assert "Zjo17qfad" in html and "spr17tstn" in html


@pytest.mark.django_db
def test_the_initials_helper_sends_chinese_to_the_zhuyin_helper(staff):
    response = htmx(staff, mode="initials", sentence="我愛台灣")
    assert "中文輸入按鍵記憶法" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("mode", "field", "secret"),
    [("initials", "sentence", "Zyx Wvq 42 secretword"), ("zhuyin", "phrase", "穀保通行碼")],
)
def test_the_helpers_input_is_not_logged_stored_or_written_back(staff, caplog, mode, field, secret):
    before = AuditEntry.objects.count()
    caplog.set_level(logging.DEBUG)
    html = page(staff, mode=mode, **{field: secret}).content.decode()
    assert f'value="{secret}' not in html and secret not in html
    assert secret not in caplog.text
    assert AuditEntry.objects.count() == before
