"""The school's password rules (clause 2.9.3, form A-3 帳號使用注意事項, form A-5).

`password_violations()` reports every rule a password breaks, each as a `Violation` with a
stable machine code and a zh-TW message that cites the clause it comes from; messages never
repeat the password or the personal data it matched. `PolicyPasswordValidator` plugs the same
rules into Django's AUTH_PASSWORD_VALIDATORS. The rules themselves, their thresholds and the
sources of the word lists are described for operators in docs/password-policy.md.

A-5 also asks for a change at least every three months, no reuse and no sharing: those are
enforced elsewhere (password age in services/middleware, history in validators.py).
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from itertools import pairwise

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import DatabaseError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------
# Thresholds (documented in docs/password-policy.md)

#: Minimum length in characters (2.9.3, A-3 注意事項 2, A-5 一.2).
MIN_LENGTH = 8
#: A user name is looked for inside the password only from this length on (A-5 二.2).
USERNAME_MIN_CONTAINED = 3
#: Parts of a user name split at . _ - (ming.wang → ming, wang) from this length on (A-5 二.2).
USERNAME_PART_MIN = 4
#: Host-name labels (DNS labels) are compared from this length on (A-5 二.3).
HOSTNAME_LABEL_MIN = 4
#: Latin name parts (first/last/English name, e-mail local part) from this length on (A-5 二.4).
NAME_PART_MIN = 3
#: Han-character names (姓名) and name parts from this length on (A-5 二.4).
CJK_NAME_MIN = 2
#: This many consecutive digits of a phone or ID number count as that number (A-5 二.4).
NUMBER_DIGITS_MIN = 6
#: An extension (分機) counts from this many digits on (A-5 二.4).
EXTENSION_MIN = 4
#: Keys in one straight line of the keyboard, from this many on (A-5 二.5).
KEYBOARD_RUN_MIN = 4
#: One character repeated this many times in a row (A-5 二.5).
REPEAT_CHAR_MIN = 3
#: A group of at least this many characters immediately repeated (A-5 二.5).
REPEAT_GROUP_MIN = 2
#: ... and of at most this many characters, so that a long password is checked in linear time.
REPEAT_GROUP_MAX = 32
#: Letters or digits with a constant step, from this many on (A-5 二.6).
SEQUENCE_MIN = 4
#: The normalised core of a password is compared with word lists from this length on (A-5 二.9).
WORD_CORE_MIN = 4
#: ... and at most this long (no word or pair of words is longer).
WORD_CORE_MAX = 64
#: At most this many leet characters at either end are tried as letters ($uperman → superman).
LEET_ENDS_MAX = 3
#: Each of two concatenated words (tom + cruz) has at least this many letters (A-5 二.9).
WORD_PART_MIN = 3
#: Latin words of the sign-in screen from this length on (A-5 二.10).
SIGNIN_LATIN_MIN = 4
#: Runs of Han characters of the sign-in screen from this length on (A-5 二.10).
SIGNIN_CJK_MIN = 2

#: The pattern rules (3-10) look at this many characters from the start of a password.
PATTERN_MAX_LENGTH = 1024

#: The template of the sign-in screen whose words may not be used (A-5 二.10).
SIGNIN_TEMPLATE = "registration/login.html"
SIGNIN_CACHE_KEY = "isms:signin-words"
#: The school's name on the sign-in screen can be edited: re-read it after this many seconds.
SIGNIN_CACHE_SECONDS = 300
#: When the screen could not be rendered (no database yet, broken template), retry sooner.
SIGNIN_FAILURE_CACHE_SECONDS = 60

#: Every code, in the order violations are reported.
CODES = (
    "empty",
    "too_short",
    "no_letter",
    "no_digit",
    "all_digits",
    "username",
    "hostname",
    "personal_info",
    "keyboard_run",
    "repeated",
    "sequence",
    "common_password",
    "dictionary_word",
    "signin_screen_word",
)


@dataclass(frozen=True)
class Violation:
    """One broken rule: a stable code and a zh-TW sentence citing its clause."""

    code: str
    message: str


#: The zh-TW message of each code; translated when a violation is reported.
MESSAGES = {
    "empty": gettext_lazy("嚴禁不設通行碼。（A-5 二.1）"),
    "too_short": gettext_lazy(
        "通行碼至少需 %(min)d 個字元（目前 %(n)d 個）。（條文 2.9.3、A-3 注意事項 2、A-5 一.2）"
    ),
    "no_letter": gettext_lazy("通行碼須包含英文字母。（條文 2.9.3、A-3 注意事項 2）"),
    "no_digit": gettext_lazy("通行碼須包含數字。（條文 2.9.3、A-3 注意事項 2）"),
    "all_digits": gettext_lazy("避免全部使用數字。（A-5 二.7）"),
    "username": gettext_lazy("通行碼嚴禁與帳號相同，也不可包含帳號或為帳號的一部分。（A-5 二.2）"),
    "hostname": gettext_lazy("通行碼嚴禁與主機名稱相同，也不可包含主機名稱。（A-5 二.3）"),
    "personal_info": gettext_lazy(
        "不可使用與自己有關的資訊，如姓名、生日、電話、分機、身分證號碼或電子郵件帳號。"
        "（A-3 注意事項 3、A-5 二.4）"
    ),
    "keyboard_run": gettext_lazy("不可包含鍵盤上連續排列的按鍵（如 qwer、1qaz）。（A-5 二.5）"),
    "repeated": gettext_lazy(
        "不可連續重複同一個字元 %(n)d 次以上，或連續重複同一組字元。（A-5 二.5）"
    ),
    "sequence": gettext_lazy(
        "不可使用連續或簡單規則的字母或數字組合（如依序遞增或遞減）。（A-5 二.6）"
    ),
    "common_password": gettext_lazy(
        "不可使用常見的通行碼（含以符號或數字替換字母的變化）。（A-5 二.9）"
    ),
    "dictionary_word": gettext_lazy("避免使用字典找得到的英文單字、常見姓名或其組合。（A-5 二.9）"),
    "signin_screen_word": gettext_lazy("不要使用電腦登入畫面上出現的任何字詞。（A-5 二.10）"),
}


def _message(code: str, length: int) -> str:
    message = str(MESSAGES[code])
    if code == "too_short":
        return message % {"min": MIN_LENGTH, "n": length}
    if code == "repeated":
        return message % {"n": REPEAT_CHAR_MIN}
    return message


# ---------------------------------------------------------------------------------------
# Text helpers

_SEPARATORS = re.compile(r"[\s\-_./\\:,()+#]+")
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RUN = re.compile(f"[{_CJK}]+")
_LATIN_RUN = re.compile(r"[a-z]+")


def _fold(text: str) -> str:
    """Full-width and compatibility forms to plain ones (ｑｗｅ → qwe), then lower-case."""
    return unicodedata.normalize("NFKC", text or "").lower()


def _compact(folded: str) -> str:
    """The folded text without spaces and common separators (1980/05/17 → 19800517)."""
    return _SEPARATORS.sub("", folded)


def _is_ascii_letter(ch: str) -> bool:
    return "a" <= ch <= "z"


def _is_ascii_digit(ch: str) -> bool:
    return "0" <= ch <= "9"


class _Text:
    """A password prepared once for every rule."""

    def __init__(self, password: str):
        self.raw = password
        self.folded = _fold(password)
        self.compact = _compact(self.folded)

    def contains(self, needle: str) -> bool:
        """True when needle (already folded) is in the password, with or without separators."""
        return bool(needle) and (needle in self.folded or needle in self.compact)


# ---------------------------------------------------------------------------------------
# Rules 1-2: length, letters and digits


def _length_rules(text: _Text) -> Iterator[str]:
    if text.raw == "":
        yield "empty"
    if len(text.raw) < MIN_LENGTH:
        yield "too_short"
    letters = any(_is_ascii_letter(c) for c in text.folded)
    digits = any(_is_ascii_digit(c) for c in text.folded)
    if not letters:
        yield "no_letter"
    if not digits:
        yield "no_digit"
    if text.compact and all(_is_ascii_digit(c) for c in text.compact):
        yield "all_digits"


# ---------------------------------------------------------------------------------------
# Rule 3: the account name (A-5 二.2)


def _username_forms(username: str) -> set[str]:
    folded = _fold(username).strip()
    if not folded:
        return set()
    forms = {folded, _compact(folded)}
    if len(folded) >= USERNAME_MIN_CONTAINED:
        forms.add(folded[::-1])
    forms.update(p for p in _SEPARATORS.split(folded) if len(p) >= USERNAME_PART_MIN)
    return forms


def _breaks_username(text: _Text, usernames: Iterable[str]) -> bool:
    pw = text.folded
    for username in usernames:
        folded = _fold(username).strip()
        if not folded:
            continue
        if pw == folded or (pw and pw in folded):
            return True
        for form in _username_forms(username):
            if len(form) >= USERNAME_MIN_CONTAINED and text.contains(form):
                return True
    return False


# ---------------------------------------------------------------------------------------
# Rule 4: host names (A-5 二.3)


def configured_hostnames() -> list[str]:
    """The host names of settings.ISMS_PASSWORD_HOSTNAMES, as a list."""
    names = getattr(settings, "ISMS_PASSWORD_HOSTNAMES", None) or []
    if isinstance(names, str):
        names = names.split(",")
    return [n.strip() for n in names if n and n.strip()]


def _breaks_hostname(text: _Text, hostnames: Iterable[str]) -> bool:
    pw = text.folded
    for hostname in hostnames:
        host = _fold(hostname).strip().rstrip(".")
        if not host:
            continue
        if pw == host or (len(pw) >= HOSTNAME_LABEL_MIN and pw in host):
            return True
        if len(host) >= HOSTNAME_LABEL_MIN and text.contains(host):
            return True
        for label in host.split("."):
            if len(label) >= HOSTNAME_LABEL_MIN and text.contains(label):
                return True
    return False


# ---------------------------------------------------------------------------------------
# Rule 5: personal information (A-3 注意事項 3, A-5 二.4)


def _person_of(user):
    """The Person record of a login, or None (no relation, unsaved user, other user model)."""
    try:
        return getattr(user, "person", None)
    except (ObjectDoesNotExist, AttributeError):
        return None


def _name_needles(name: str) -> set[str]:
    """Latin parts of >= 3 letters; Han runs of >= 2 characters and their given name."""
    folded = _fold(name)
    needles = {p for p in _LATIN_RUN.findall(folded) if len(p) >= NAME_PART_MIN}
    for run in _CJK_RUN.findall(folded):
        if len(run) >= CJK_NAME_MIN:
            needles.add(run)
        if len(run) >= 3:
            # 王小明 → 小明: the given name alone (also right for most compound surnames).
            needles.add(run[-2:])
    return needles


def _email_needles(email: str) -> set[str]:
    local = _fold(email).split("@", 1)[0].strip()
    needles = _name_needles(local)
    if len(local) >= NAME_PART_MIN:
        needles.add(local)
    return needles


def _birthday_needles(day) -> set[str]:
    """Western and ROC (民國) forms of a date, without separators (see docs)."""
    y, m, d = day.year, day.month, day.day
    yy = y % 100
    forms = {
        f"{y:04d}{m:02d}{d:02d}",  # 19800517
        f"{yy:02d}{m:02d}{d:02d}",  # 800517
        f"{m:02d}{d:02d}{y:04d}",  # 05171980
        f"{d:02d}{m:02d}{y:04d}",  # 17051980
        f"{m:02d}{d:02d}{yy:02d}",  # 051780
        f"{d:02d}{m:02d}{yy:02d}",  # 170580
        f"{m:02d}{d:02d}",  # 0517
        f"{d:02d}{m:02d}",  # 1705
        f"{y}{m}{d}",  # 1980517 (no zero padding)
        f"{m}{d}{y}",  # 5171980
        f"{d}{m}{y}",  # 1751980
    }
    roc = y - 1911
    if roc >= 1:
        forms |= {
            f"{roc:03d}{m:02d}{d:02d}",  # 0690517
            f"{roc}{m:02d}{d:02d}",  # 690517, 1010517
            f"{roc}{m}{d}",  # 69517
        }
    return forms


def _number_windows(digits: str) -> set[str]:
    """Every run of NUMBER_DIGITS_MIN consecutive digits, or the whole number when shorter."""
    if len(digits) < NUMBER_DIGITS_MIN:
        return {digits} if len(digits) >= 3 else set()
    n = NUMBER_DIGITS_MIN
    return {digits[i : i + n] for i in range(len(digits) - n + 1)}


def _phone_needles(phone: str) -> set[str]:
    number, _sep, ext = (phone or "").partition("#")
    digits = "".join(c for c in _fold(number) if _is_ascii_digit(c))
    needles = _number_windows(digits)
    if digits.startswith("886"):  # +886 2 2908 1234 is also dialled 02 2908 1234
        needles |= _number_windows("0" + digits[3:])
    needles |= _extension_needles(ext)
    return needles


def _extension_needles(extension: str) -> set[str]:
    digits = "".join(c for c in _fold(extension) if _is_ascii_digit(c))
    return {digits} if len(digits) >= EXTENSION_MIN else set()


def _national_id_needles(national_id: str) -> set[str]:
    nid = _compact(_fold(national_id))
    if not nid:
        return set()
    needles = {nid}
    match = re.search(r"[0-9]+$", nid)
    if match and len(match.group()) >= NUMBER_DIGITS_MIN:
        needles.add(match.group())
        needles |= _number_windows(match.group())
    return needles


def personal_needles(user) -> set[str]:
    """Folded strings of a login's personal information that a password may not contain."""
    if user is None:
        return set()
    needles: set[str] = set()
    for attr in ("first_name", "last_name"):
        needles |= _name_needles(str(getattr(user, attr, "") or ""))
    needles |= _email_needles(str(getattr(user, "email", "") or ""))
    person = _person_of(user)
    if person is not None:
        needles |= _name_needles(str(getattr(person, "name", "") or ""))
        needles |= _name_needles(str(getattr(person, "english_name", "") or ""))
        needles |= _email_needles(str(getattr(person, "email", "") or ""))
        birthday = getattr(person, "birthday", None)
        if birthday is not None:
            needles |= _birthday_needles(birthday)
        needles |= _phone_needles(str(getattr(person, "phone", "") or ""))
        needles |= _extension_needles(str(getattr(person, "extension", "") or ""))
        needles |= _national_id_needles(str(getattr(person, "national_id", "") or ""))
    return {n for n in needles if n}


def _breaks_personal(text: _Text, user) -> bool:
    return any(text.contains(needle) for needle in personal_needles(user))


# ---------------------------------------------------------------------------------------
# Rule 6: keyboard runs (A-5 二.5)

# US QWERTY, unshifted. Columns are numbered so that keys of one keyboard column share a
# number: 1 q a z are column 0, 2 w s x column 1 (the digit row starts one key further left).
_KEY_ROWS = ("`1234567890-=", "qwertyuiop[]\\", "asdfghjkl;'", "zxcvbnm,./")
_KEY_ROW_OFFSET = (-1, 0, 0, 0)
_SHIFTED = dict(zip('~!@#$%^&*()_+{}|:"<>?', "`1234567890-=[]\\;',./", strict=True))
_KEY_POSITION = {
    key: (row, col + _KEY_ROW_OFFSET[row])
    for row, keys in enumerate(_KEY_ROWS)
    for col, key in enumerate(keys)
}
# Straight lines: along a row (qwer), down a column (1qaz) and along the other diagonal
# (zse4 / 4esz); each in both directions.
_KEY_DIRECTIONS = {(0, 1), (0, -1), (1, 0), (-1, 0), (1, -1), (-1, 1)}


def _key_step(a: str, b: str) -> tuple[int, int] | None:
    pa = _KEY_POSITION.get(_SHIFTED.get(a, a))
    pb = _KEY_POSITION.get(_SHIFTED.get(b, b))
    if pa is None or pb is None:
        return None
    step = (pb[0] - pa[0], pb[1] - pa[1])
    return step if step in _KEY_DIRECTIONS else None


def _is_key_line(chars: str) -> bool:
    steps = {_key_step(a, b) for a, b in pairwise(chars)}
    return len(steps) == 1 and None not in steps


def has_keyboard_run(password: str, minimum: int = KEYBOARD_RUN_MIN) -> bool:
    """True when `minimum` characters in a row, or every other one, follow a line of keys."""
    folded = _fold(password)
    run, previous = 1, None
    for a, b in pairwise(folded):
        step = _key_step(a, b)
        run = run + 1 if step is not None and step == previous else (2 if step else 1)
        previous = step
        if run >= minimum:
            return True
    # Interleaved: 1q2w3e4r, q1w3e5r7 (a line of keys, and another line or a progression).
    span = 2 * minimum
    for i in range(len(folded) - span + 1):
        even, odd = folded[i : i + span : 2], folded[i + 1 : i + span : 2]
        if (_is_key_line(even) and (_is_key_line(odd) or _is_progression(odd))) or (
            _is_key_line(odd) and _is_progression(even)
        ):
            return True
    return False


# ---------------------------------------------------------------------------------------
# Rule 7: repeated characters or groups (A-5 二.5)

_REPEATED = re.compile(
    rf"(.)\1{{{REPEAT_CHAR_MIN - 1},}}|(.{{{REPEAT_GROUP_MIN},{REPEAT_GROUP_MAX}}})\2", re.DOTALL
)


def has_repetition(password: str) -> bool:
    """True for aaa (one character 3 times) or abab / 1212 / abcabc (a repeated group)."""
    return bool(_REPEATED.search(_fold(password)))


# ---------------------------------------------------------------------------------------
# Rule 8: sequences and simple arithmetic runs (A-5 二.6)


def _kind(ch: str) -> str:
    if _is_ascii_digit(ch):
        return "digit"
    if _is_ascii_letter(ch):
        return "letter"
    return ""


def _is_progression(chars: str) -> bool:
    """All digits or all letters, with one constant step (which may be 0: aaaa)."""
    kinds = {_kind(c) for c in chars}
    steps = {ord(b) - ord(a) for a, b in pairwise(chars)}
    return len(kinds) == 1 and "" not in kinds and len(steps) == 1


def _steps(folded: str, stride: int) -> list[int | None]:
    """The code-point difference from each character to the one `stride` further on, when
    both are digits or both are letters; None otherwise."""
    kinds = [_kind(c) for c in folded]
    return [
        ord(folded[i + stride]) - ord(folded[i])
        if kinds[i] and kinds[i] == kinds[i + stride]
        else None
        for i in range(len(folded) - stride)
    ]


def _constant(steps: list, i: int, count: int, stride: int, allow_zero: bool = False) -> bool:
    """steps[i], steps[i + stride], ... (count of them) are one and the same number."""
    first = steps[i]
    if first is None or (first == 0 and not allow_zero):
        return False
    return all(steps[i + k * stride] == first for k in range(1, count))


def has_sequence(password: str, minimum: int = SEQUENCE_MIN) -> bool:
    """True for `minimum` letters or digits with a constant step, plain or interleaved."""
    folded = _fold(password)
    count = minimum - 1  # steps between `minimum` characters
    adjacent = _steps(folded, 1)
    if any(_constant(adjacent, i, count, 1) for i in range(len(adjacent) - count + 1)):
        return True
    skip = _steps(folded, 2)
    for i in range(len(folded) - 2 * minimum + 1):
        even, odd = i, i + 1
        if (_constant(skip, even, count, 2) and _constant(skip, odd, count, 2, True)) or (
            _constant(skip, odd, count, 2) and _constant(skip, even, count, 2, True)
        ):
            return True
    return False


# ---------------------------------------------------------------------------------------
# Rule 9: dictionary words, names and common passwords (A-5 二.9)

_WORD_LISTS = ("english_wikipedia", "us_tv_and_film", "surnames", "male_names", "female_names")
_ALPHA_WORD = re.compile(r"[a-z]+")
_LEET = {"@": "a", "0": "o", "3": "e", "4": "a", "5": "s", "$": "s", "7": "t", "!": "i"}
_LEET_ONE = ("l", "i")  # 1 stands for l or i


@functools.cache
def common_passwords() -> frozenset[str]:
    """Django's common-password list and zxcvbn's password list, lower-case."""
    from django.contrib.auth.password_validation import CommonPasswordValidator
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    words = {w.strip().lower() for w in CommonPasswordValidator().passwords}
    words.update(w.lower() for w in FREQUENCY_LISTS["passwords"])
    return frozenset(w for w in words if w)


@functools.cache
def dictionary_words() -> frozenset[str]:
    """English words and common first names and surnames (zxcvbn's lists), letters only."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(
        w
        for name in _WORD_LISTS
        for w in FREQUENCY_LISTS[name]
        if len(w) >= WORD_PART_MIN and _ALPHA_WORD.fullmatch(w)
    )


@functools.cache
def word_parts() -> frozenset[str]:
    """Words that may be joined in twos: dictionary words and letters-only common passwords."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    # zxcvbn keeps each word in one list only: "blue" is in the password list alone.
    common = (
        w
        for w in FREQUENCY_LISTS["passwords"]
        if len(w) >= WORD_PART_MIN and _ALPHA_WORD.fullmatch(w)
    )
    return dictionary_words() | frozenset(common)


def _leet_heads(lead: str) -> set[str]:
    """The ends of a leading non-letter run that may be leet letters: "12$" → "", "$"."""
    heads = {""}
    for j in range(1, min(len(lead), LEET_ENDS_MAX) + 1):
        if not all(c in _LEET or c == "1" for c in lead[-j:]):
            break
        heads.add(lead[-j:])
    return heads


def _unleet(text: str, one: str) -> str:
    return "".join(one if c == "1" else _LEET.get(c, c) for c in text)


def word_cores(password: str) -> set[str]:
    """The normalised cores of a password that are compared with the word lists.

    1. Fold: NFKC (full-width to plain characters) and lower-case.
    2. Remove spaces and the separators - _ . inside the password (Tom Cruz → tomcruz).
    3. Split off the leading and trailing characters that are not letters (digits and
       symbols): 2024$uperman7! → "2024$", "uperman", "7!".
    4. Strip those ends, each either completely or except for up to LEET_ENDS_MAX leet
       characters next to the letters ("2024$" → "" or "$"; "7!" → "", "7" or "7!").
    5. Undo leet substitutions in each candidate: @→a, 0→o, 1→l or i (both tried), 3→e,
       4→a, 5→s, $→s, 7→t, !→i (P@ssw0rd → password, $uperman → superman).
    6. Keep the candidates made of letters only, WORD_CORE_MIN to WORD_CORE_MAX long.
    """
    folded = re.sub(r"[\s\-_.]+", "", _fold(password))
    start, end = 0, len(folded)
    while start < end and not _is_ascii_letter(folded[start]):
        start += 1
    while end > start and not _is_ascii_letter(folded[end - 1]):
        end -= 1
    lead, middle, trail = folded[:start], folded[start:end], folded[end:]
    if len(middle) > WORD_CORE_MAX:
        return set()
    cores = set()
    tails = {t[::-1] for t in _leet_heads(trail[::-1])}
    for head in _leet_heads(lead):
        for tail in tails:
            for one in _LEET_ONE:
                cores.add(_unleet(head + middle + tail, one))
    return {c for c in cores if len(c) >= WORD_CORE_MIN and _ALPHA_WORD.fullmatch(c)}


def _is_word_or_pair(core: str) -> bool:
    if core in dictionary_words():
        return True
    parts = word_parts()
    return any(
        core[:i] in parts and core[i:] in parts
        for i in range(WORD_PART_MIN, len(core) - WORD_PART_MIN + 1)
    )


def _word_rules(text: _Text) -> Iterator[str]:
    common = common_passwords()
    cores = word_cores(text.raw)
    if text.folded in common or text.folded.strip() in common or cores & common:
        yield "common_password"
    if any(_is_word_or_pair(core) for core in cores):
        yield "dictionary_word"


# ---------------------------------------------------------------------------------------
# Rule 10: words of the sign-in screen (A-5 二.10)


class _VisibleText(HTMLParser):
    """Collects the text a person sees: no scripts, styles or templates; with placeholders,
    image alt texts and button captions."""

    HIDDEN = {"script", "style", "template", "noscript"}
    BUTTON_TYPES = {"submit", "button", "reset"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden_depth = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.HIDDEN:
            self.hidden_depth += 1
            return
        values = dict(attrs)
        for attr in ("placeholder", "alt"):
            if values.get(attr):
                self.parts.append(values[attr])
        if tag == "input" and (values.get("type") or "").lower() in self.BUTTON_TYPES:
            self.parts.append(values.get("value") or "")

    def handle_endtag(self, tag):
        if tag in self.HIDDEN and self.hidden_depth:
            self.hidden_depth -= 1

    def handle_data(self, data):
        if not self.hidden_depth:
            self.parts.append(data)


def visible_text(html: str) -> str:
    """The visible text of an HTML page, tags, scripts and styles removed."""
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    return " ".join(parser.parts)


def screen_words(text: str) -> set[str]:
    """Latin words of >= 4 letters, Han runs of >= 2 characters and their pairs, lower-case."""
    folded = _fold(text)
    words = {w for w in _LATIN_RUN.findall(folded) if len(w) >= SIGNIN_LATIN_MIN}
    for run in _CJK_RUN.findall(folded):
        if len(run) >= SIGNIN_CJK_MIN:
            words.add(run)
            words.update(run[i : i + SIGNIN_CJK_MIN] for i in range(len(run) - 1))
    return words


def _login_path() -> str:
    from django.shortcuts import resolve_url
    from django.urls import NoReverseMatch

    try:
        return resolve_url(settings.LOGIN_URL)
    except NoReverseMatch:
        return "/"


def _signin_request():
    """A GET of the sign-in page by a visitor who is not signed in."""
    from django.contrib.auth.models import AnonymousUser
    from django.test import RequestFactory

    hosts = [h.lstrip(".") for h in settings.ALLOWED_HOSTS if h and h != "*"]
    request = RequestFactory().get(_login_path(), HTTP_HOST=hosts[0] if hosts else "localhost")
    request.user = AnonymousUser()
    return request


def _signin_context(request) -> dict:
    """The context the sign-in view gives its template (the school's name, the form)."""
    from django.contrib.auth.forms import AuthenticationForm
    from django.urls import Resolver404, resolve

    try:
        match = resolve(request.path)
        view_class = match.func.view_class
    except (Resolver404, AttributeError):
        return {"form": AuthenticationForm(request)}
    view = view_class(**getattr(match.func, "view_initkwargs", {}))
    view.setup(request, *match.args, **match.kwargs)
    return view.get_context_data()


def _render_signin_html() -> tuple[str, bool]:
    """The sign-in screen as a visitor sees it; when that fails (no database yet, e.g.
    `isms check-password` before `isms migrate`), the template alone, without the data."""
    from django.contrib.auth.forms import AuthenticationForm
    from django.template import TemplateDoesNotExist
    from django.template.loader import render_to_string

    try:
        request = _signin_request()
        return render_to_string(SIGNIN_TEMPLATE, _signin_context(request), request=request), True
    except TemplateDoesNotExist:
        raise
    except Exception as exc:  # the other rules must keep working whatever breaks here
        logger.warning(
            "Sign-in screen rendered without its data (A-5 二.10): %s",
            exc,
            exc_info=not isinstance(exc, DatabaseError),
        )
    return render_to_string(SIGNIN_TEMPLATE, {"form": AuthenticationForm()}), False


def _render_signin_words() -> tuple[frozenset[str], bool]:
    from django.template import TemplateDoesNotExist

    try:
        html, complete = _render_signin_html()
    except TemplateDoesNotExist:
        return frozenset(), True
    except Exception:
        logger.warning("Cannot render the sign-in screen (A-5 二.10)", exc_info=True)
        return frozenset(), False
    return frozenset(screen_words(visible_text(html))), complete


def signin_screen_words() -> frozenset[str]:
    """Words shown on the sign-in screen (A-5 二.10), cached for SIGNIN_CACHE_SECONDS."""
    from django.core.cache import cache

    try:
        cached = cache.get(SIGNIN_CACHE_KEY)
    except Exception:  # a cache server that is down must not stop password changes
        logger.warning("Cache unavailable for the sign-in screen words", exc_info=True)
        return _render_signin_words()[0]
    if cached is not None:
        return frozenset(cached)
    words, ok = _render_signin_words()
    timeout = SIGNIN_CACHE_SECONDS if ok else SIGNIN_FAILURE_CACHE_SECONDS
    try:
        cache.set(SIGNIN_CACHE_KEY, sorted(words), timeout)
    except Exception:
        logger.warning("Cache unavailable for the sign-in screen words", exc_info=True)
    return words


def clear_signin_screen_words() -> None:
    """Forget the cached sign-in words (call after the school's name is edited)."""
    from django.core.cache import cache

    cache.delete(SIGNIN_CACHE_KEY)


def _extra_word_set(extra_words: Iterable[str]) -> set[str]:
    words: set[str] = set()
    for word in extra_words:
        words |= screen_words(word)
        folded = _fold(word).strip()
        if len(folded) >= SIGNIN_LATIN_MIN:
            words.add(folded)
    return words


def _breaks_signin_words(text: _Text, extra_words: Iterable[str]) -> bool:
    words = signin_screen_words() | _extra_word_set(extra_words)
    return any(text.contains(w) for w in words)


# ---------------------------------------------------------------------------------------
# Public API


def password_violations(
    password: str,
    *,
    username: str = "",
    user=None,
    hostnames: Iterable[str] = (),
    extra_words: Iterable[str] = (),
) -> list[Violation]:
    """All rules the password breaks, each code at most once, in the order of CODES."""
    password = password or ""
    length = len(password)
    codes: set[str] = set(_length_rules(_Text(password)))
    # The pattern rules look at the beginning only: they stay fast for any input, and what
    # follows the first PATTERN_MAX_LENGTH characters does not make a password guessable.
    password = password[:PATTERN_MAX_LENGTH]
    text = _Text(password)

    usernames = [username]
    if user is not None:
        get_username = getattr(user, "get_username", None)
        usernames.append(get_username() if callable(get_username) else "")
    if _breaks_username(text, [u for u in usernames if u]):
        codes.add("username")
    if _breaks_hostname(text, [*configured_hostnames(), *hostnames]):
        codes.add("hostname")
    if _breaks_personal(text, user):
        codes.add("personal_info")
    if has_keyboard_run(password):
        codes.add("keyboard_run")
    if has_repetition(password):
        codes.add("repeated")
    if has_sequence(password):
        codes.add("sequence")
    codes.update(_word_rules(text))
    if _breaks_signin_words(text, extra_words):
        codes.add("signin_screen_word")

    return [Violation(code, _message(code, length)) for code in CODES if code in codes]


class PolicyPasswordValidator:
    """Django password validator for clause 2.9.3, A-3 帳號使用注意事項 and A-5.

    OPTIONS may add host names and forbidden words to those of the settings and the
    sign-in screen: {"hostnames": [...], "extra_words": [...]}.
    """

    def __init__(self, hostnames: Iterable[str] = (), extra_words: Iterable[str] = ()):
        self.hostnames = tuple(hostnames)
        self.extra_words = tuple(extra_words)

    def validate(self, password, user=None):
        """Raise ValidationError listing every broken rule."""
        violations = password_violations(
            password, user=user, hostnames=self.hostnames, extra_words=self.extra_words
        )
        if violations:
            raise ValidationError([ValidationError(v.message, code=v.code) for v in violations])

    def get_help_text(self):
        """A zh-TW summary of the rules."""
        return _(
            "通行碼至少 %(min)d 個字元，須同時包含英文字母與數字"
            "（建議混合大小寫字母、數字與特殊符號）；"
            "不可與帳號、主機名稱相同或包含它們；"
            "不可包含姓名、生日、電話、分機、身分證號碼等個人資訊；"
            "不可使用鍵盤上連續排列的按鍵、重複的字元、連續或簡單規則的字母或數字；"
            "避免全部使用數字、字典找得到的英文單字、常見姓名或常見通行碼；"
            "也不要使用登入畫面上出現的字詞。（條文 2.9.3、A-3 帳號使用注意事項、A-5）"
        ) % {"min": MIN_LENGTH}
