"""The password rules of clause 2.9.3, A-3 帳號使用注意事項 and A-5 (isms.core.passwords)."""

import datetime as dt
import time

import pytest
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from isms.core import passwords
from isms.core.passwords import (
    CODES,
    PolicyPasswordValidator,
    Violation,
    password_violations,
)

GOOD = "Ee6ysnMEc"  # A-5 一.4 b: "There are 26 lovely kids in my English class"
GOOD_ZHUYIN = "wj/ vu/6a83"  # A-5 一.4: 「通行碼」typed on a Zhuyin keyboard

# Hypothesis: the rules are pure functions, fixtures (settings, cache) do not change between
# examples.
PROPERTY = hsettings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def codes(password, **kwargs):
    return [v.code for v in password_violations(password, **kwargs)]


@pytest.fixture(autouse=True)
def no_signin_words(request, monkeypatch, settings):
    """Rules other than A-5 二.10 are tested without the sign-in screen (and without a DB)."""
    settings.ISMS_PASSWORD_HOSTNAMES = []
    if "real_signin_words" not in request.fixturenames:
        monkeypatch.setattr(passwords, "signin_screen_words", lambda: frozenset())


@pytest.fixture
def real_signin_words():
    """Requested by the tests of A-5 二.10: the sign-in screen is really rendered."""
    passwords.clear_signin_screen_words()


# ---------------------------------------------------------------------------------------
# The policy's own examples


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("mFSinsC", "too_short"),  # A-5 一.4 a: only 7 characters, below its own minimum
        ("6666rrrr", "repeated"),  # A-5 二.5
        ("qwertyui", "keyboard_run"),  # A-5 二.5
        ("zxcvbnm", "keyboard_run"),  # A-5 二.5
        ("abcdefgh", "sequence"),  # A-5 二.6
        ("12345678", "sequence"),  # A-5 二.6
        ("24681024", "sequence"),  # A-5 二.6
        ("24681024", "all_digits"),  # A-5 二.7
        ("52526565", "all_digits"),  # A-5 二.7
        ("TomCruz", "dictionary_word"),  # A-5 二.9
        ("superman", "common_password"),  # A-5 二.9
    ],
)
def test_the_policys_bad_examples_are_rejected(password, expected):
    assert expected in codes(password)


@pytest.mark.parametrize("password", [GOOD, GOOD_ZHUYIN])
def test_the_policys_good_examples_are_accepted(password):
    assert password_violations(password) == []


def test_the_policys_examples_also_break_the_other_rules_they_should():
    assert "no_digit" in codes("mFSinsC")  # 2.9.3: letters and digits
    assert "no_letter" in codes("52526565")
    assert "repeated" in codes("52526565")  # 5252, 6565


# ---------------------------------------------------------------------------------------
# Rule 1: length (2.9.3, A-3 注意事項 2, A-5 一.2) and A-5 二.1


def test_empty_password_has_its_own_code():
    assert codes("")[0] == "empty"
    assert "empty" not in codes("a")


@pytest.mark.parametrize("password", ["Xk7#pq9", "a1", "Zq8"])
def test_shorter_than_eight_characters(password):
    assert "too_short" in codes(password)


@pytest.mark.parametrize("password", ["Xk7#pq9m", "Hm3kfpXwe", "Tmp-12ab-xyz"])
def test_eight_characters_or_more_are_long_enough(password):
    assert "too_short" not in codes(password)


def test_the_length_message_gives_the_count_but_not_the_password():
    (message,) = [v.message for v in password_violations("Xk7#pq9") if v.code == "too_short"]
    assert "8" in message and "7" in message and "2.9.3" in message
    assert "Xk7#pq9" not in message


def test_length_counts_characters_not_bytes():
    assert "too_short" not in codes("通行碼通行碼Ab9")  # 9 characters


# ---------------------------------------------------------------------------------------
# Rule 2: letters and digits (2.9.3), all digits (A-5 二.7)


@pytest.mark.parametrize("password", ["Kmzrpvxw", "Kmzr-pvxw!", "ｋｍｚｒＰＶＸＷ"])
def test_a_digit_is_required(password):
    assert "no_digit" in codes(password)


@pytest.mark.parametrize("password", ["9#7!5@3%1", "通行碼通行碼通行碼9"])
def test_an_english_letter_is_required(password):
    assert "no_letter" in codes(password)
    assert "no_letter" not in codes(password + "k")


@pytest.mark.parametrize("password", ["80917356", "8091 7356", "1980/05/17", "８０９１７３５６"])
def test_all_digits(password):
    assert "all_digits" in codes(password)


def test_digits_with_one_letter_are_not_all_digits():
    assert "all_digits" not in codes("80917356k")


# ---------------------------------------------------------------------------------------
# Rule 3: the account name (A-5 二.2)


@pytest.mark.parametrize(
    ("password", "username"),
    [
        ("chenwl2024", "chenwl2024"),  # the same
        ("ChenWL2024", "chenwl2024"),  # case-insensitive
        ("xq7chenwlz", "chenwl"),  # contains it
        ("teacher.c", "teacher.chen2"),  # is a part of it
        ("zxlwnehc9k", "chenwl"),  # contains it reversed
        ("Mingwang9x", "ming.wang"),  # contains it without the separator
        ("Wang7kzx9q", "ming.wang"),  # contains a part (>= 4) of it
    ],
)
def test_the_username_may_not_be_used(password, username):
    assert "username" in codes(password, username=username)


def test_a_username_shorter_than_three_is_only_compared_whole():
    assert "username" not in codes("Qy7ab9kwz", username="ab")
    assert "username" in codes("AB", username="ab")


def test_an_unrelated_password_does_not_break_the_username_rule():
    assert "username" not in codes(GOOD, username="chenwl")


def test_the_username_of_the_user_object_counts_too():
    class Login:
        def get_username(self):
            return "hmwang"

    assert "username" in codes("Hmwang2024x", user=Login())


# ---------------------------------------------------------------------------------------
# Rule 4: host names (A-5 二.3)


def test_host_names_from_the_settings(settings):
    settings.ISMS_PASSWORD_HOSTNAMES = ["isms.kpvs.ntpc.edu.tw", "fs01"]
    assert "hostname" in codes("isms.kpvs.ntpc.edu.tw")  # the same
    assert "hostname" in codes("KPVS7x9qmz")  # a label of >= 4 characters
    assert "hostname" in codes("x9NTPC7qmz")
    assert "hostname" in codes("Fs01")  # a short host name, equal
    assert "hostname" not in codes("Edu7x9qmzk")  # "edu" is a label of only 3 characters
    assert "hostname" not in codes(GOOD)


def test_host_names_given_as_argument(settings):
    settings.ISMS_PASSWORD_HOSTNAMES = ["isms.kpvs.ntpc.edu.tw"]
    assert "hostname" in codes("Mailsrv9x7q", hostnames=["mailsrv.school.tw"])
    assert "hostname" in codes("Kpvs9x7qmz", hostnames=["mailsrv.school.tw"])  # settings too
    assert "hostname" not in codes("Mailsrv9x7q")


def test_a_password_that_is_part_of_a_host_name():
    assert "hostname" in codes("ntpc.edu", hostnames=["isms.kpvs.ntpc.edu.tw"])


# ---------------------------------------------------------------------------------------
# Rule 5: personal information (A-3 注意事項 3, A-5 二.4), with a real login and person


@pytest.fixture
def person_login(db):
    from isms.core.models import Person, User

    person = Person.objects.create(
        name="王小明",
        english_name="Hsiao-Ming Wang",
        birthday=dt.date(1980, 5, 17),
        phone="02-2908-1234",
        extension="5678",
        national_id="F231875094",
        email="hm.wang@example.edu.tw",
    )
    return User.objects.create_user(username="hmw", password=None, person=person)


@pytest.mark.django_db
class TestPersonalInformation:
    @pytest.mark.parametrize(
        "password",
        [
            "Kz19800517q",  # birthday, Western YYYYMMDD
            "Kz800517qx",  # YYMMDD
            "Kz0690517q",  # ROC year, 3 digits: 069/05/17
            "Kz690517qx",  # ROC YYMMDD
            "Kz69/05/17q",  # ROC with separators
            "Kz1980-05-17",  # Western with separators
            "Kz0517qxmv",  # MMDD
            "Kz29081234q",  # phone, >= 6 consecutive digits
            "Kz22908123q",  # phone, another run of 6
            "Kz5678qxmv",  # extension
            "Kzf231875094",  # national ID, case-insensitive
            "Kz231875094",  # its 9-digit numeric part
            "Kz875094qmv",  # its last 6 digits
            "王小明Kz9qmv",  # name
            "小明Kz9qmvx",  # given name
            "Hsiao9Kzqm",  # English name part
            "Kz9qmwangx",
            "Kzhm.wang9",  # e-mail local part
        ],
    )
    def test_rejected(self, person_login, password):
        assert "personal_info" in codes(password, user=person_login)

    @pytest.mark.parametrize(
        "password",
        [GOOD, GOOD_ZHUYIN, "Kz19800518q", "Kz0690518q", "Kz29071234q", "Kz875095qmv"],
    )
    def test_clean_variants_accepted(self, person_login, password):
        assert "personal_info" not in codes(password, user=person_login)

    def test_without_the_user_personal_information_is_not_known(self):
        assert "personal_info" not in codes("Kz19800517q")

    def test_a_login_without_a_person(self):
        from isms.core.models import User

        user = User.objects.create_user(
            username="nop", password=None, first_name="Rosalind", last_name="Franklin"
        )
        assert "personal_info" in codes("Rosalind92x", user=user)
        assert "personal_info" in codes("x9Franklin", user=user)
        assert "personal_info" not in codes(GOOD, user=user)

    def test_an_unsaved_login(self):
        from isms.core.models import User

        assert password_violations(GOOD, user=User(username="new")) == []

    def test_the_validator_uses_the_login(self, person_login):
        with pytest.raises(ValidationError) as info:
            PolicyPasswordValidator().validate("Kz0690517q", user=person_login)
        assert "personal_info" in [e.code for e in info.value.error_list]

    def test_messages_do_not_repeat_the_personal_information(self, person_login):
        for v in password_violations("王小明19800517", user=person_login):
            assert "王小明" not in v.message and "19800517" not in v.message


def test_a_person_relation_that_does_not_exist():
    class Login:
        username = "nobody"
        first_name = last_name = email = ""

        def get_username(self):
            return self.username

        @property
        def person(self):
            raise ObjectDoesNotExist

    assert password_violations(GOOD, user=Login()) == []


def test_personal_information_of_a_plain_object():
    class Person:
        name = "Alice Liddell"
        english_name = ""
        birthday = dt.date(2012, 3, 4)  # ROC 101
        phone = "+886 2 2908 1234"
        extension = "12"
        national_id = ""
        email = ""

    class Login:
        username = "x"
        first_name = last_name = email = ""
        person = Person()

    assert "personal_info" in codes("Kz1010304q", user=Login())  # ROC 101/03/04
    assert "personal_info" in codes("Liddell9kz", user=Login())
    assert "personal_info" in codes("Kz0229081q", user=Login())  # 02 2908 1234
    assert "personal_info" not in codes("Kz12qmvxw9", user=Login())  # a 2-digit extension


# ---------------------------------------------------------------------------------------
# Rule 6: keyboard runs (A-5 二.5)


@pytest.mark.parametrize(
    "password",
    [
        "1qaz2wsx",  # two 4-long columns
        "!QAZ@WSX",  # the same with Shift
        "poiuy8Km",  # a row, reversed
        "Kz9asdf7",
        "Kz9xsw2z",  # a column, upwards
        "zse4Kz9m",  # the other diagonal
        "Kz9;lkj7",  # a row with punctuation
        "Kz9ＱＷＥＲ7",  # full-width
        "7890-=Kz",
        "1q2w3e4r!",  # two rows, interleaved
        "zaxscdvf9",
        "q1w3e5r7",  # a row and a progression, interleaved
    ],
)
def test_keyboard_runs(password):
    assert "keyboard_run" in codes(password)


@pytest.mark.parametrize("password", [GOOD, GOOD_ZHUYIN, "qwe9Kzrt", "1qa8zKm7", "qwsaKz9m"])
def test_three_keys_or_a_bent_line_are_not_a_keyboard_run(password):
    assert "keyboard_run" not in codes(password)


def test_the_keyboard_message_does_not_show_the_match():
    (message,) = [v.message for v in password_violations("Kz9poiuy") if v.code == "keyboard_run"]
    assert "poiu" not in message and "A-5 二.5" in message


# ---------------------------------------------------------------------------------------
# Rule 7: repetitions (A-5 二.5)


@pytest.mark.parametrize(
    "password", ["Kz9mmmx7", "Kz9MmMx7", "abab9Kzx", "Kz12129x", "abcabc9K", "Kz7#!#!q"]
)
def test_repetitions(password):
    assert "repeated" in codes(password)


@pytest.mark.parametrize("password", [GOOD, "Kz9mmx7q", "aba9Kzxq"])
def test_a_double_letter_is_not_a_repetition(password):
    assert "repeated" not in codes(password)


# ---------------------------------------------------------------------------------------
# Rule 8: sequences (A-5 二.6)


@pytest.mark.parametrize(
    "password",
    [
        "Kz1234qm",
        "Kz4321qm",
        "Kz2468qm",
        "Kz1357qm",
        "Kz9aceg7",
        "Kz9ZYXW7",
        "Kz9adgj7",
        "a1b2c3d4",
    ],
)
def test_sequences(password):
    assert "sequence" in codes(password)


@pytest.mark.parametrize("password", [GOOD, "Kz123qmx", "Kz1243qm", "Kz7890qm", "Kz9abd7x"])
def test_short_or_irregular_runs_are_not_sequences(password):
    assert "sequence" not in codes(password)


# ---------------------------------------------------------------------------------------
# Rule 9: dictionary words, names, common passwords (A-5 二.9)


@pytest.mark.parametrize(
    "password",
    [
        "P@ssw0rd1",
        "$uperman7",
        "2024Sunshine!",
        "iloveyou99",
        "Dragon2024",
        "m0nk3y!!",
        "BlueSky99",
    ],
)
def test_common_passwords_and_their_leet_variants(password):
    assert "common_password" in codes(password)


@pytest.mark.parametrize(
    "password",
    ["Tom Cruz", "Telescope42", "2024Taiwan!", "Cathedral7!", "Castle-Rock7", "w1nd0w-k1tchen"],
)
def test_dictionary_words_names_and_two_of_them(password):
    assert "dictionary_word" in codes(password)


@pytest.mark.parametrize(
    "password", [GOOD, GOOD_ZHUYIN, "Tr0ub4dor&3", "Xk7#pq92mv", "Kq9zTomxCruzv", "Rq8vtnWdz"]
)
def test_words_that_are_not_the_whole_password_are_not_flagged(password):
    assert not {"common_password", "dictionary_word"} & set(codes(password))


def test_word_cores_normalisation():
    assert "password" in passwords.word_cores("P@ssw0rd1")
    assert "superman" in passwords.word_cores("2024$uperman!")
    assert "tomcruz" in passwords.word_cores("Tom Cruz")
    assert passwords.word_cores(GOOD) == set()


def test_the_word_lists_are_loaded_once():
    assert passwords.dictionary_words() is passwords.dictionary_words()
    assert "superman" in passwords.common_passwords()
    assert {"tom", "cruz", "telescope"} <= passwords.dictionary_words()
    assert passwords.dictionary_words() <= passwords.word_parts()


# ---------------------------------------------------------------------------------------
# Rule 10: words of the sign-in screen (A-5 二.10)

SCREEN = """
<html><head><title>登入 · 穀保家商</title><style>.brand {color: red}</style>
<script>var secretword = "javascript";</script></head>
<body><h1>Kupao Campus</h1><p>校園資安管理平台</p>
<input type="text" placeholder="Account name"><input type="submit" value="Login now">
<input type="hidden" value="hiddenvalue"><p>OK &amp; go</p></body></html>
"""


def test_visible_words_of_a_screen():
    from django.template import engines

    html = engines["django"].from_string(SCREEN).render({})
    words = passwords.screen_words(passwords.visible_text(html))
    assert {"kupao", "campus", "account", "login", "穀保家商", "校園資安管理平台"} <= words
    assert {"校園", "資安"} <= words  # pairs of Han characters
    assert not {"secretword", "javascript", "brand", "color", "hiddenvalue", "red"} & words
    assert not {"ok", "go"} & words  # Latin words of fewer than 4 letters


def test_signin_words_from_a_template(real_signin_words, settings, tmp_path, monkeypatch):
    from django.core.cache import cache

    (tmp_path / "registration").mkdir()
    (tmp_path / "registration" / "test_login.html").write_text(SCREEN, encoding="utf-8")
    settings.TEMPLATES = [
        {"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [tmp_path]}
    ]
    monkeypatch.setattr(passwords, "SIGNIN_TEMPLATE", "registration/test_login.html")
    monkeypatch.setattr(passwords, "_signin_context", lambda request: {})
    cache.delete(passwords.SIGNIN_CACHE_KEY)

    assert "kupao" in passwords.signin_screen_words()
    assert cache.get(passwords.SIGNIN_CACHE_KEY) is not None  # cached
    assert "signin_screen_word" in codes("Kupao2024x")
    assert "signin_screen_word" in codes("x9CAMPUS7q")
    assert "signin_screen_word" in codes("資安Kz9qmv")
    assert "signin_screen_word" not in codes(GOOD)


def test_a_missing_signin_template_means_no_words(real_signin_words, monkeypatch):
    from django.core.cache import cache

    cache.delete(passwords.SIGNIN_CACHE_KEY)
    monkeypatch.setattr(passwords, "SIGNIN_TEMPLATE", "registration/no-such-template.html")
    assert passwords.signin_screen_words() == frozenset()
    assert password_violations(GOOD) == []


@pytest.mark.django_db
def test_the_real_signin_screen_shows_the_schools_name(real_signin_words):
    from isms.core.models import SchoolProfile

    passwords.clear_signin_screen_words()
    profile = SchoolProfile.load()
    profile.name = "穀保家商"
    profile.save()
    assert "穀保家商" in passwords.signin_screen_words()
    assert "signin_screen_word" in codes("穀保家商Kz9q")
    assert password_violations(GOOD) == []
    assert password_violations(GOOD_ZHUYIN) == []

    profile.name = "東山高中"
    profile.save()
    assert "東山高中" not in passwords.signin_screen_words()  # cached for 300 s...
    passwords.clear_signin_screen_words()
    assert "東山高中" in passwords.signin_screen_words()  # ...or until cleared


def test_extra_words_are_treated_like_signin_words():
    assert "signin_screen_word" in codes("Kpvs2024xq", extra_words=["KPVS"])
    assert "signin_screen_word" in codes("Kq穀保9xmz", extra_words=["穀保家商"])
    assert "signin_screen_word" not in codes(GOOD, extra_words=["KPVS", "穀保家商"])


# ---------------------------------------------------------------------------------------
# All rules together


def test_several_violations_at_once_in_a_stable_order():
    found = codes("Zqqq")
    assert found == ["too_short", "no_digit", "repeated"]
    found = codes("Qwer1234", username="qwer1234")
    assert {"username", "keyboard_run", "sequence"} <= set(found)
    assert found == sorted(found, key=CODES.index)


def test_violations_are_value_objects():
    (v,) = password_violations("Kz9mmmx7")
    assert v == Violation("repeated", v.message)
    with pytest.raises(AttributeError):
        v.code = "other"


@pytest.mark.parametrize(
    "password",
    [
        "mFSinsC",
        "6666rrrr",
        "qwertyui",
        "zxcvbnm",
        "abcdefgh",
        "12345678",
        "24681024",
        "52526565",
        "TomCruz",
        "superman",
        "P@ssw0rd1",
        "1qaz2wsx",
    ],
)
def test_messages_never_contain_the_password(password):
    violations = password_violations(password, username=password, hostnames=[password])
    assert violations
    for v in violations:
        assert password.lower() not in v.message.lower()
        assert v.code in CODES and v.message


def test_every_code_has_a_message_citing_the_policy():
    for code in CODES:
        message = passwords._message(code, 3)
        assert "A-5" in message or "2.9.3" in message, code


def test_one_call_is_fast():
    password_violations("warm-up")
    start = time.perf_counter()
    for _ in range(200):
        password_violations("Ee6ysnMEc-Kz9!", username="hmwang", hostnames=["isms.school.tw"])
    assert (time.perf_counter() - start) / 200 < 0.005


# ---------------------------------------------------------------------------------------
# Django's validator interface


def test_the_validator_raises_every_violation():
    with pytest.raises(ValidationError) as info:
        PolicyPasswordValidator().validate("qwertyui")
    found = [e.code for e in info.value.error_list]
    assert "keyboard_run" in found and "no_digit" in found
    PolicyPasswordValidator().validate(GOOD)


def test_the_validator_options():
    validator = PolicyPasswordValidator(hostnames=["fs.school.tw"], extra_words=["kupao"])
    with pytest.raises(ValidationError):
        validator.validate("Kupao9xqz7")


def test_the_validator_is_configured_in_settings():
    from django.contrib.auth.password_validation import validate_password

    with pytest.raises(ValidationError) as info:
        validate_password("6666rrrr")
    assert "repeated" in [e.code for e in info.value.error_list]
    validate_password(GOOD_ZHUYIN)


def test_help_text():
    text = PolicyPasswordValidator().get_help_text()
    assert "8" in text and "A-5" in text


# ---------------------------------------------------------------------------------------
# Properties

# Every straight line of 4 or more keys: rows, columns (1qaz) and diagonals (zse4).
ROWS = ["`1234567890-=", "qwertyuiop[]\\", "asdfghjkl;'", "zxcvbnm,./"]
COLUMNS = [
    "".join(c) for c in zip("1234567890", "qwertyuiop", "asdfghjkl;", "zxcvbnm,./", strict=True)
]
DIAGONALS = [
    "".join(d) for d in zip("zxcvbnm,.", "sdfghjkl;", "ertyuiop[", "4567890-=", strict=True)
]
LINES = ROWS + COLUMNS + DIAGONALS


@PROPERTY
@given(st.text(max_size=7))
def test_property_shorter_than_eight_is_too_short(password):
    assert "too_short" in codes(password)


@PROPERTY
@given(st.from_regex(r"[0-9]{1,24}", fullmatch=True))
def test_property_digits_only_is_all_digits(password):
    found = codes(password)
    assert "all_digits" in found and "no_letter" in found


@PROPERTY
@given(
    st.sampled_from(LINES),
    st.data(),
    st.booleans(),
    st.booleans(),
    st.sampled_from([GOOD, GOOD_ZHUYIN, "Xk7#pq92mv"]),
)
def test_property_a_keyboard_line_inserted_is_a_keyboard_run(line, data, reverse, shift, good):
    start = data.draw(st.integers(0, len(line) - 4))
    run = line[start : start + 4]
    run = run[::-1] if reverse else run
    if shift:
        run = run.upper().translate(
            str.maketrans("`1234567890-=[]\\;',./", '~!@#$%^&*()_+{}|:"<>?')
        )
    at = data.draw(st.integers(0, len(good)))
    assert "keyboard_run" in codes(good[:at] + run + good[at:])


@PROPERTY
@given(st.characters(codec="ascii", categories=["L", "N", "P"]), st.integers(0, 9))
def test_property_a_character_three_times_is_repeated(ch, at):
    assert "repeated" in codes(GOOD[:at] + ch * 3 + GOOD[at:])


@PROPERTY
@given(st.integers(0, 9), st.sampled_from([-3, -2, -1, 1, 2, 3]), st.integers(0, 9))
def test_property_an_arithmetic_run_of_digits_is_a_sequence(first, step, at):
    digits = [first + i * step for i in range(4)]
    if not all(0 <= d <= 9 for d in digits):
        return
    assert "sequence" in codes(GOOD[:at] + "".join(map(str, digits)) + GOOD[at:])


@PROPERTY
@given(st.text(alphabet="abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789", min_size=8))
def test_property_codes_are_unique_ordered_and_never_echo_the_password(password):
    violations = password_violations(password, username="someone")
    found = [v.code for v in violations]
    assert found == sorted(set(found), key=CODES.index)
    assert all(password not in v.message for v in violations)
