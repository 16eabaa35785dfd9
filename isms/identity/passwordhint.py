"""The memorising techniques of form A-5 一.4 (優質通行碼設定原則 「使用技巧記住通行碼」).

Two plain functions build a candidate password, and two `*_hint` functions add the check
of the result against the school's rules (isms.core.passwords, the validator of sign-in):

- 字首字尾記憶法 (`initials`): the first (or last) character of each word of an English
  sentence. A-5's examples: "My favorite student is named Sophie Chen" → mFSinsC (字頭),
  "There are 26 lovely kids in my English class" → Ee6ysnMEc (字尾).
- 中文輸入按鍵記憶法 (`zhuyin_keys`): the keys a Chinese phrase is typed with on the
  standard Zhuyin (大千) keyboard. A-5's example: 「通行碼」 → ``wj/ vu/6a83``.

Nothing here stores or logs its input; callers must not either (the help page, the
`isms password-hint` command).

Decisions (the rule A-5 gives, and what it leaves open):

- Initials: words are runs of English letters and digits (an apostrophe inside a word
  belongs to it: don't → d … t); everything else separates words. A number is a word like
  any other (A-5: 26 → 6 for the last character); ``whole_numbers=True`` keeps numbers
  whole instead. Letters keep the case they have in the sentence: A-5's examples mix the
  case by the author's choice (一.1 混合大寫與小寫), which the page suggests doing by hand.
  A-5's second example also switches to first letters for its last three words
  (my English class → MEc); the helper offers the two pure variants.
- A-5 describes the initials technique for English sentences only. Chinese input is
  refused with a pointer to the Zhuyin technique, which is A-5's technique for Chinese.
- Zhuyin: the reading of each character in context comes from pypinyin's phrase
  dictionary (Style.BOPOMOFO). That dictionary is written in simplified characters, so a
  traditional phrase is first converted with OpenCC (tw2s), position by position; a
  reading that the traditional character cannot have (發/髮 both become 发) falls back to
  the traditional character's own reading. Readings where Taiwan's dictionary (教育部
  《重編國語辭典修訂本》) differs from the mainland one that pypinyin gives are corrected
  for a short list of common characters (`TAIWAN_READINGS`), and 一 and 不 keep their
  dictionary tone (the tone changes of speech, 一起 yì, 不要 bú, are not typed).
- Zhuyin symbols in the input are typed as they are, so a person who reads a character
  differently writes its Zhuyin instead (ㄧㄢˊㄐㄧㄡˋ). An untoned syllable is the first
  tone (the space key); ˉ may mark it explicitly.
- English letters, digits and ASCII symbols pass through unchanged (通行碼2024 →
  wj/ vu/6a832024); spaces between words are ignored (the space key is the first tone).
  Anything else (Chinese punctuation, emoji, kana, characters without a reading) is
  refused, naming the characters, because it has no key on the keyboard.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from isms.core.passwords import Violation, password_violations

#: The longest sentence or phrase a helper accepts (characters).
MAX_INPUT = 200

# ---------------------------------------------------------------------------------------
# The standard Zhuyin (大千) keyboard, as printed on Taiwanese keyboards and used by
# Microsoft's 注音 IME (keyboard layout kbdTCBO) and libchewing's default layout.

_KEY_ROWS = ("1234567890-", "qwertyuiop", "asdfghjkl;", "zxcvbnm,./")
_ZHUYIN_ROWS = (
    "ㄅㄉˇˋㄓˊ˙ㄚㄞㄢㄦ",
    "ㄆㄊㄍㄐㄔㄗㄧㄛㄟㄣ",
    "ㄇㄋㄎㄑㄕㄘㄨㄜㄠㄤ",
    "ㄈㄌㄏㄒㄖㄙㄩㄝㄡㄥ",
)
_LAYOUT = {
    symbol: key
    for keys, symbols in zip(_KEY_ROWS, _ZHUYIN_ROWS, strict=True)
    for key, symbol in zip(keys, symbols, strict=True)
}

#: The tone marks and their keys; the first tone is typed with the space key.
FIRST_TONE_KEY = " "
TONE_KEYS = {"ˉ": FIRST_TONE_KEY, "ˊ": "6", "ˇ": "3", "ˋ": "4", "˙": "7"}
#: Every Zhuyin symbol (ㄅ … ㄩ, 37 of them) and its key.
ZHUYIN_KEYS = {s: k for s, k in _LAYOUT.items() if s not in TONE_KEYS}

_INITIALS = frozenset("ㄅㄆㄇㄈㄉㄊㄋㄌㄍㄎㄏㄐㄑㄒㄓㄔㄕㄖㄗㄘㄙ")
_MEDIALS = frozenset("ㄧㄨㄩ")
_FINALS = frozenset("ㄚㄛㄜㄝㄞㄟㄠㄡㄢㄣㄤㄥㄦ")

#: Readings of Taiwan's dictionary where pypinyin gives the mainland one, and the tone of
#: 一 and 不 as written in dictionaries (not the tone changes of speech): character →
#: {reading pypinyin gives: reading typed in Taiwan}.
TAIWAN_READINGS = {
    "一": {"ㄧˊ": "ㄧ", "ㄧˋ": "ㄧ"},
    "不": {"ㄅㄨˊ": "ㄅㄨˋ"},
    "期": {"ㄑㄧ": "ㄑㄧˊ"},  # 星期
    "究": {"ㄐㄧㄡ": "ㄐㄧㄡˋ"},  # 研究
    "微": {"ㄨㄟ": "ㄨㄟˊ"},
    "危": {"ㄨㄟ": "ㄨㄟˊ"},
    "企": {"ㄑㄧˇ": "ㄑㄧˋ"},
    "擊": {"ㄐㄧ": "ㄐㄧˊ"},  # 攻擊
    "績": {"ㄐㄧˋ": "ㄐㄧ"},  # 成績
    "跡": {"ㄐㄧˋ": "ㄐㄧ"},
    "惜": {"ㄒㄧ": "ㄒㄧˊ"},
    "息": {"ㄒㄧ": "ㄒㄧˊ"},  # 休息
    "夕": {"ㄒㄧ": "ㄒㄧˋ"},
    "攜": {"ㄒㄧㄝˊ": "ㄒㄧ"},
    "髮": {"ㄈㄚˋ": "ㄈㄚˇ"},  # 頭髮
    "暫": {"ㄗㄢˋ": "ㄓㄢˋ"},
    "綜": {"ㄗㄨㄥ": "ㄗㄨㄥˋ"},
    "誼": {"ㄧˋ": "ㄧˊ"},
    "擁": {"ㄩㄥ": "ㄩㄥˇ"},
    "液": {"ㄧㄝˋ": "ㄧˋ"},
    "癌": {"ㄞˊ": "ㄧㄢˊ"},
    "播": {"ㄅㄛ": "ㄅㄛˋ"},
    "檔": {"ㄉㄤˋ": "ㄉㄤˇ"},
}

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_ZHUYIN_CHARS = frozenset(ZHUYIN_KEYS) | frozenset(TONE_KEYS)


# ---------------------------------------------------------------------------------------
# Results


class HintInputError(ValueError):
    """Input a helper cannot use; `message` says why in zh-TW (for people), `code` for code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Part:
    """One piece of the input and what it became: a character with its Zhuyin reading and
    keys, or a word and the letter taken from it."""

    source: str
    reading: str
    keys: str

    @property
    def keys_shown(self) -> str:
        """The keys with the space key made visible (␣)."""
        return self.keys.replace(" ", "␣")


@dataclass(frozen=True)
class Hint:
    """A candidate password built by one technique, and the rules it breaks."""

    method: str  # "zhuyin", "initials" or "last_letters"
    result: str
    parts: tuple[Part, ...]
    violations: tuple[Violation, ...]

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def result_shown(self) -> str:
        """The result with each space key shown as ␣."""
        return self.result.replace(" ", "␣")

    @property
    def has_space(self) -> bool:
        return " " in self.result


#: A plain-language explanation of each violation code of isms.core.passwords, for people
#: who are not security experts (the validator's messages cite the clause; these say why).
EXPLANATIONS = {
    "empty": gettext_lazy("沒有通行碼就像門沒有上鎖，任何人都能進來。"),
    "too_short": gettext_lazy(
        "通行碼越短，電腦越快能逐一試出來。用一整句話的字首字尾，或多打幾個中文字的注音按鍵，"
        "就能輕鬆加長。"
    ),
    "no_letter": gettext_lazy("請加入英文字母，大小寫混合更好。"),
    "no_digit": gettext_lazy(
        "請加入至少一個數字，例如句子裡的數字；注音按鍵的聲調（ˊ ˇ ˋ ˙）也會打出數字 6、3、4、7。"
    ),
    "all_digits": gettext_lazy(
        "只有數字的通行碼（例如生日、電話）組合很少，很快就能被試出來；請混合英文字母。"
    ),
    "username": gettext_lazy("別人一定會先拿你的帳號來試，通行碼裡不可以出現帳號。"),
    "hostname": gettext_lazy("主機或網站的名稱是公開的，不要放進通行碼。"),
    "personal_info": gettext_lazy(
        "姓名、生日、電話、分機、身分證號碼、電子郵件帳號，別人容易查到或猜到，請不要放進通行碼。"
    ),
    "keyboard_run": gettext_lazy(
        "在鍵盤上排成一直線的按鍵（例如 qwer、asdf、1qaz）是破解工具最先嘗試的組合。"
    ),
    "repeated": gettext_lazy("重複的字元或重複的一組字元（例如 6666、abab）很容易被猜到。"),
    "sequence": gettext_lazy("有規律的連續字母或數字（例如 1234、abcd、2468）很容易被猜到。"),
    "common_password": gettext_lazy(
        "這是外洩通行碼清單裡常見的通行碼，把字母換成符號或數字（例如 P@ssw0rd）也一樣，"
        "破解工具會第一個試。"
    ),
    "dictionary_word": gettext_lazy(
        "字典裡的英文單字、常見人名，或兩個單字連在一起，破解工具會拿整本字典去試；"
        "請改用一句話的字首字尾，或中文詞句的注音按鍵。"
    ),
    "signin_screen_word": gettext_lazy(
        "登入畫面上的字（例如學校名稱）每個人都看得到，請不要用在通行碼裡。"
    ),
}


def explain(violation: Violation) -> str:
    """The plain-language explanation of a violation ("" for a code without one)."""
    text = EXPLANATIONS.get(violation.code)
    return str(text) if text is not None else ""


def check(
    candidate: str, *, user=None, username: str = "", hostnames: Iterable[str] = ()
) -> tuple[Violation, ...]:
    """The school's rules the candidate breaks (the sign-in validator, isms.core.passwords)."""
    return tuple(password_violations(candidate, username=username, user=user, hostnames=hostnames))


# ---------------------------------------------------------------------------------------
# Input checks shared by both techniques


def _fold_width(text: str) -> str:
    """Full-width letters and digits (ａＢ１) and the ideographic space to plain ASCII.

    Only these: NFKC would also turn the neutral-tone mark ˙ into a space and a dot, and
    full-width punctuation (，！) is Chinese punctuation, which has no key of its own.
    """
    out = []
    for ch in text:
        code = ord(ch)
        if 0xFF01 <= code <= 0xFF5E and chr(code - 0xFEE0).isalnum():
            out.append(chr(code - 0xFEE0))
        elif ch == "\u3000":
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def _checked_input(text: str) -> str:
    text = _fold_width(text or "").strip()
    if not text:
        raise HintInputError("empty", _("請輸入一句話或一個詞句。"))
    if len(text) > MAX_INPUT:
        raise HintInputError(
            "too_long", _("輸入太長了，最多 %(max)d 個字元。") % {"max": MAX_INPUT}
        )
    return text


def _listing(chars: Iterable[str]) -> str:
    seen = dict.fromkeys(chars)
    return "、".join(f"「{c}」" for c in seen)


# ---------------------------------------------------------------------------------------
# 字首字尾記憶法


_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z0-9]+)*")


def sentence_words(sentence: str) -> list[str]:
    """The words of an English sentence (letters and digits; apostrophes inside a word).

    Raises HintInputError for Chinese (A-5 gives this technique for English sentences),
    for letters other than English ones, and for a sentence without words.
    """
    text = _checked_input(sentence)
    if _HAN.search(text) or any(c in _ZHUYIN_CHARS for c in text):
        raise HintInputError(
            "chinese",
            _(
                "字首字尾記憶法用於英文句子（A-5 一.4）。中文詞句請改用「中文輸入按鍵記憶法」，"
                "以注音按鍵組成通行碼。"
            ),
        )
    foreign = [c for c in text if c.isalpha() and not c.isascii()]
    if foreign:
        raise HintInputError(
            "letters",
            _("只能使用英文字母與數字組成單字，無法使用：%(chars)s") % {"chars": _listing(foreign)},
        )
    words = _WORD.findall(text)
    if not words:
        raise HintInputError("no_words", _("句子裡沒有英文單字或數字。"))
    return words


def _word_letter(word: str, *, last: bool, whole_numbers: bool) -> str:
    plain = word.replace("'", "").replace("’", "")
    if whole_numbers and plain.isdigit():
        return plain
    return plain[-1] if last else plain[0]


def initials(sentence: str, *, last: bool = False, whole_numbers: bool = False) -> str:
    """字首字尾記憶法 (A-5 一.4): the first (or, with ``last``, the last) character of each word.

    1. Split the sentence into words: runs of English letters and digits (`sentence_words`).
    2. Take each word's first character, or its last with ``last=True``; letters keep the
       case they have in the sentence.
    3. A number counts as a word (A-5: 26 → 6); with ``whole_numbers`` it is kept whole.
    """
    return "".join(
        _word_letter(w, last=last, whole_numbers=whole_numbers) for w in sentence_words(sentence)
    )


def initials_hint(
    sentence: str,
    *,
    last: bool = False,
    whole_numbers: bool = False,
    user=None,
    username: str = "",
    hostnames: Iterable[str] = (),
) -> Hint:
    """`initials` with its parts and the rules the result breaks."""
    words = sentence_words(sentence)
    parts = tuple(
        Part(w, "", _word_letter(w, last=last, whole_numbers=whole_numbers)) for w in words
    )
    result = "".join(p.keys for p in parts)
    return Hint(
        method="last_letters" if last else "initials",
        result=result,
        parts=parts,
        violations=check(result, user=user, username=username, hostnames=hostnames),
    )


# ---------------------------------------------------------------------------------------
# 中文輸入按鍵記憶法


def syllable_keys(reading: str) -> str:
    """The 大千 keys of one Zhuyin syllable: its symbols, then its tone key (space for the
    first tone). The tone mark may stand anywhere (˙ㄉㄜ and ㄉㄜ˙ are the same)."""
    symbols = [c for c in reading if c not in TONE_KEYS]
    tones = [c for c in reading if c in TONE_KEYS]
    unknown = [c for c in symbols if c not in ZHUYIN_KEYS]
    if unknown or len(tones) > 1 or not symbols:
        raise HintInputError("reading", _("無法辨識的注音：%(reading)s") % {"reading": reading})
    tone = TONE_KEYS[tones[0]] if tones else FIRST_TONE_KEY
    return "".join(ZHUYIN_KEYS[c] for c in symbols) + tone


def split_syllables(zhuyin: str) -> list[str]:
    """Zhuyin typed by a person, split into syllables.

    1. A tone mark ends a syllable; ˙ before a syllable (˙ㄉㄜ) belongs to that syllable.
    2. Without a tone mark, a syllable ends where the next symbol cannot continue it: an
       initial after anything, a medial after a medial or a final, a final after a final.
       Such a syllable is the first tone.
    Whitespace ends a syllable too. Returns each syllable with its tone mark last.
    """
    syllables: list[str] = []
    current = ""
    pending_tone = ""

    def close(tone: str = "") -> None:
        nonlocal current, pending_tone
        if current:
            syllables.append(current + (tone or pending_tone))
            current, pending_tone = "", ""
        elif tone:
            pending_tone = tone

    for ch in zhuyin:
        if ch.isspace():
            close()
        elif ch in TONE_KEYS:
            if current:
                close(ch)
            else:
                pending_tone = ch  # a leading neutral-tone mark
        else:
            last = current[-1:] if current else ""
            starts_new = bool(current) and (
                ch in _INITIALS
                or (ch in _MEDIALS and (last in _MEDIALS or last in _FINALS))
                or (ch in _FINALS and last in _FINALS)
            )
            if starts_new:
                close()
            current += ch
    close()
    if pending_tone:
        raise HintInputError("reading", _("聲調符號前後沒有注音。"))
    return syllables


@functools.cache
def _converter():
    import opencc

    # tw2s: Taiwan-standard traditional characters (台/臺, 裡/裏) to simplified, character
    # for character; tw2sp would also replace words (軟體 → 软件) and change lengths.
    return opencc.OpenCC("tw2s")


def _is_reading(text: str) -> bool:
    return bool(text) and all(c in _ZHUYIN_CHARS for c in text)


def _own_readings(char: str) -> list[str]:
    from pypinyin import Style, pinyin

    return [r for r in pinyin(char, style=Style.BOPOMOFO, heteronym=True)[0] if _is_reading(r)]


def han_readings(run: str) -> list[str]:
    """The Zhuyin reading of each character of a run of Han characters, read in context.

    1. Convert the run to simplified characters (OpenCC tw2s); pypinyin's phrase
       dictionary is written in them (銀行 is found as 银行 → ㄏㄤˊ).
    2. Read the converted run with pypinyin (Style.BOPOMOFO): phrases first, then single
       characters. If the conversion changed the length, read the run as written.
    3. Where a character was converted and the reading found is not one of the original
       character's own readings (髮 and 發 both become 发), use the original's first one.
    4. Apply TAIWAN_READINGS (Taiwan's dictionary readings; 一 and 不 without tone change).
    Raises HintInputError for a character without a reading.
    """
    from pypinyin import Style, pinyin

    simplified = _converter().convert(run)
    if len(simplified) != len(run):
        simplified = run
    found = [r[0] for r in pinyin(simplified, style=Style.BOPOMOFO, errors=lambda s: [""] * len(s))]
    if len(found) != len(run):  # pypinyin returned an unreadable stretch as one item
        found = [
            pinyin(c, style=Style.BOPOMOFO, errors=lambda s: [""] * len(s))[0][0]
            for c in simplified
        ]
    readings = []
    for original, converted, reading in zip(run, simplified, found, strict=True):
        if original != converted:
            own = _own_readings(original)
            if own and reading not in own:
                reading = own[0]
        if not _is_reading(reading):
            raise HintInputError(
                "no_reading", _("找不到這些字的注音：%(chars)s") % {"chars": _listing(original)}
            )
        reading = TAIWAN_READINGS.get(original, {}).get(reading, reading)
        readings.append(reading)
    return readings


_RUN = re.compile(
    rf"(?P<han>{_HAN.pattern}+)"
    rf"|(?P<zhuyin>[{''.join(sorted(_ZHUYIN_CHARS))}]+)"
    r"|(?P<ascii>[!-~]+)"
    r"|(?P<space>\s+)"
    r"|(?P<other>.)",
    re.S,
)


def zhuyin_parts(phrase: str) -> list[Part]:
    """The phrase cut into characters (and passed-through text) with their readings and keys.

    1. Han characters: their readings in context (`han_readings`), then their keys.
    2. Zhuyin typed in the input: split into syllables (`split_syllables`), then keys.
    3. English letters, digits and ASCII symbols: kept as they are.
    4. Whitespace: ignored. Anything else: HintInputError naming the characters.
    """
    text = _checked_input(phrase)
    others = [m.group() for m in _RUN.finditer(text) if m.lastgroup == "other"]
    if others:
        raise HintInputError(
            "characters",
            _("這些字元無法用注音鍵盤打出來，請刪除或改用中文字、注音、英文字母、數字：%(chars)s")
            % {"chars": _listing(others)},
        )
    parts: list[Part] = []
    for match in _RUN.finditer(text):
        kind, chunk = match.lastgroup, match.group()
        if kind == "han":
            for char, reading in zip(chunk, han_readings(chunk), strict=True):
                parts.append(Part(char, reading, syllable_keys(reading)))
        elif kind == "zhuyin":
            for syllable in split_syllables(chunk):
                parts.append(Part(syllable, syllable, syllable_keys(syllable)))
        elif kind == "ascii":
            parts.append(Part(chunk, "", chunk))
    if not parts:
        raise HintInputError("empty", _("請輸入一句話或一個詞句。"))
    return parts


def zhuyin_keys(phrase: str) -> str:
    """中文輸入按鍵記憶法 (A-5 一.4): the keys a phrase is typed with on the 大千 keyboard.

    通行碼 → ``wj/ vu/6a83``: ㄊㄨㄥ (w j / and the space of the first tone), ㄒㄧㄥˊ
    (v u / 6), ㄇㄚˇ (a 8 3). See `zhuyin_parts` for what other input becomes.
    """
    return "".join(p.keys for p in zhuyin_parts(phrase))


def zhuyin_hint(
    phrase: str, *, user=None, username: str = "", hostnames: Iterable[str] = ()
) -> Hint:
    """`zhuyin_keys` with its parts and the rules the result breaks."""
    parts = tuple(zhuyin_parts(phrase))
    result = "".join(p.keys for p in parts)
    return Hint(
        method="zhuyin",
        result=result,
        parts=parts,
        violations=check(result, user=user, username=username, hostnames=hostnames),
    )
