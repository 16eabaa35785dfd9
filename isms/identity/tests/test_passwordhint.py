"""A-5's memorising techniques (isms.identity.passwordhint) and `isms password-hint`."""

import io

import pytest
from django.core.management import call_command

from isms.core import passwords
from isms.identity import passwordhint
from isms.identity.passwordhint import (
    HintInputError,
    initials,
    initials_hint,
    split_syllables,
    syllable_keys,
    zhuyin_hint,
    zhuyin_keys,
    zhuyin_parts,
)

# The standard Zhuyin (大千) keyboard as the brief and Microsoft's kbdTCBO layout give it,
# written out independently of the module's own row strings.
DACHEN = (
    "ㄅ1 ㄆq ㄇa ㄈz ㄉ2 ㄊw ㄋs ㄌx ㄍe ㄎd ㄏc ㄐr ㄑf ㄒv ㄓ5 ㄔt ㄕg ㄖb ㄗy ㄘh ㄙn "
    "ㄧu ㄨj ㄩm ㄚ8 ㄛi ㄜk ㄝ, ㄞ9 ㄟo ㄠl ㄡ. ㄢ0 ㄣp ㄤ; ㄥ/ ㄦ-"
)
SYMBOL_KEYS = [(pair[0], pair[1:]) for pair in DACHEN.split()]

A5_FIRST = "My favorite student is named Sophie Chen"  # 取字頭成為 mFSinsC
A5_LAST = "There are 26 lovely kids in my English class"  # 取字尾成為 Ee6ysnMEc


@pytest.fixture(autouse=True)
def no_signin_words(monkeypatch, settings):
    # The sign-in screen's words depend on the school's data; these tests are about the rest.
    settings.ISMS_PASSWORD_HOSTNAMES = []
    monkeypatch.setattr(passwords, "signin_screen_words", lambda: frozenset())


def readings(phrase: str) -> list[str]:
    return [p.reading for p in zhuyin_parts(phrase)]


# --- 中文輸入按鍵記憶法 -----------------------------------------------------------------


def test_the_policy_example_gives_the_policys_keys():
    assert zhuyin_keys("通行碼") == "wj/ vu/6a83"


def test_the_policy_example_meets_the_policy():
    hint = zhuyin_hint("通行碼")
    assert hint.result == "wj/ vu/6a83"
    assert hint.ok and hint.violations == ()
    assert [p.reading for p in hint.parts] == ["ㄊㄨㄥ", "ㄒㄧㄥˊ", "ㄇㄚˇ"]
    assert [p.keys for p in hint.parts] == ["wj/ ", "vu/6", "a83"]
    assert hint.result_shown == "wj/␣vu/6a83"


@pytest.mark.parametrize(("symbol", "key"), SYMBOL_KEYS, ids=[s for s, _k in SYMBOL_KEYS])
def test_every_zhuyin_symbol_has_its_dachen_key(symbol, key):
    assert passwordhint.ZHUYIN_KEYS[symbol] == key


def test_the_table_is_the_whole_zhuyin_alphabet_on_distinct_keys():
    bopomofo = {chr(c) for c in range(0x3105, 0x312A)}  # ㄅ … ㄩ, the 37 symbols
    assert set(passwordhint.ZHUYIN_KEYS) == bopomofo
    assert len(SYMBOL_KEYS) == 37 and dict(SYMBOL_KEYS) == passwordhint.ZHUYIN_KEYS
    keys = [*passwordhint.ZHUYIN_KEYS.values(), "6", "3", "4", "7"]
    assert len(set(keys)) == len(keys) == 41


@pytest.mark.parametrize(
    ("reading", "keys"),
    [
        ("ㄇㄚ", "a8 "),  # first tone: the space key
        ("ㄇㄚˉ", "a8 "),  # the first-tone mark, when written
        ("ㄇㄚˊ", "a86"),
        ("ㄇㄚˇ", "a83"),
        ("ㄇㄚˋ", "a84"),
        ("ㄇㄚ˙", "a87"),
        ("˙ㄇㄚ", "a87"),  # the neutral-tone mark is written before the syllable too
    ],
)
def test_tones_are_typed_after_the_symbols(reading, keys):
    assert syllable_keys(reading) == keys
    assert passwordhint.TONE_KEYS == {"ˉ": " ", "ˊ": "6", "ˇ": "3", "ˋ": "4", "˙": "7"}


def test_syllables_of_every_shape():
    assert syllable_keys("ㄓ") == "5 "  # 知: an initial alone
    assert syllable_keys("ㄦˊ") == "-6"  # 兒
    assert syllable_keys("ㄒㄩㄝˊ") == "vm,6"  # 學
    assert syllable_keys("ㄓㄨㄤ") == "5j; "  # 裝
    with pytest.raises(HintInputError):
        syllable_keys("ㄇㄚˊˇ")
    with pytest.raises(HintInputError):
        syllable_keys("ˊ")


@pytest.mark.parametrize(
    ("phrase", "reading"),
    [
        ("銀行", ["ㄧㄣˊ", "ㄏㄤˊ"]),
        ("行走", ["ㄒㄧㄥˊ", "ㄗㄡˇ"]),
        ("長度", ["ㄔㄤˊ", "ㄉㄨˋ"]),
        ("長大", ["ㄓㄤˇ", "ㄉㄚˋ"]),
        ("重複", ["ㄔㄨㄥˊ", "ㄈㄨˋ"]),
        ("重要", ["ㄓㄨㄥˋ", "ㄧㄠˋ"]),
        ("還是", ["ㄏㄞˊ", "ㄕˋ"]),
        ("還錢", ["ㄏㄨㄢˊ", "ㄑㄧㄢˊ"]),
        ("朝代", ["ㄔㄠˊ", "ㄉㄞˋ"]),
        ("朝陽", ["ㄓㄠ", "ㄧㄤˊ"]),
    ],
)
def test_polyphonic_characters_are_read_in_context(phrase, reading):
    assert readings(phrase) == reading


def test_bank_and_walking_give_different_keys_for_the_same_character():
    assert zhuyin_keys("銀行") == "up6c;6"
    assert zhuyin_keys("行走") == "vu/6y.3"


def test_characters_merged_in_simplified_keep_their_own_reading():
    assert readings("頭髮") == ["ㄊㄡˊ", "ㄈㄚˇ"]  # 髮 and 發 are both 发 in simplified
    assert readings("發現") == ["ㄈㄚ", "ㄒㄧㄢˋ"]
    assert readings("睡著") == ["ㄕㄨㄟˋ", "ㄓㄠˊ"]
    assert readings("臺灣") == readings("台灣") == ["ㄊㄞˊ", "ㄨㄢ"]


def test_taiwan_readings_and_no_tone_changes_of_speech():
    assert readings("研究") == ["ㄧㄢˊ", "ㄐㄧㄡˋ"]
    assert readings("星期") == ["ㄒㄧㄥ", "ㄑㄧˊ"]
    assert readings("攻擊") == ["ㄍㄨㄥ", "ㄐㄧˊ"]
    assert readings("一起") == ["ㄧ", "ㄑㄧˇ"]
    assert readings("不要") == ["ㄅㄨˋ", "ㄧㄠˋ"]
    assert readings("覺得") == ["ㄐㄩㄝˊ", "ㄉㄜ˙"]


def test_zhuyin_typed_in_the_input_is_used_as_it_is():
    assert zhuyin_keys("ㄊㄨㄥㄒㄧㄥˊㄇㄚˇ") == "wj/ vu/6a83"
    assert zhuyin_keys("ㄊㄨㄥ ㄒㄧㄥˊ ㄇㄚˇ") == "wj/ vu/6a83"
    assert zhuyin_keys("研ㄐㄧㄡ") == "u06ru. "  # one's own reading of a character
    assert zhuyin_keys("˙ㄉㄜ") == "2k7"


def test_zhuyin_is_split_into_syllables_like_an_input_method_does():
    assert split_syllables("ㄊㄨㄥㄒㄧㄥˊㄇㄚˇ") == ["ㄊㄨㄥ", "ㄒㄧㄥˊ", "ㄇㄚˇ"]
    assert split_syllables("ㄨㄛˇ˙ㄉㄜ") == ["ㄨㄛˇ", "ㄉㄜ˙"]
    assert split_syllables("ㄚㄧ") == ["ㄚ", "ㄧ"]  # a medial after a final starts anew
    assert split_syllables("ㄧㄚ") == ["ㄧㄚ"]
    with pytest.raises(HintInputError):
        split_syllables("ㄇㄚˊ ˇ")


def test_letters_digits_and_ascii_symbols_pass_through_and_spaces_are_ignored():
    assert zhuyin_keys("通行碼2024!") == "wj/ vu/6a832024!"
    assert zhuyin_keys("Go通行碼") == "Gowj/ vu/6a83"
    assert zhuyin_keys("通行 碼") == "wj/ vu/6a83"
    assert zhuyin_keys("通行碼２０２４") == "wj/ vu/6a832024"  # full-width digits


@pytest.mark.parametrize("phrase", ["通行碼。", "通行碼😀", "ひらがな", "通行碼，好"])
def test_characters_without_a_key_are_refused_by_name(phrase):
    with pytest.raises(HintInputError) as caught:
        zhuyin_keys(phrase)
    assert caught.value.code == "characters"
    odd = [c for c in phrase if c not in "通行碼好"]
    assert all(f"「{c}」" in caught.value.message for c in odd)


def test_empty_and_overlong_input_is_refused():
    for empty in ("", "   ", "\u3000"):
        with pytest.raises(HintInputError) as caught:
            zhuyin_keys(empty)
        assert caught.value.code == "empty"
    with pytest.raises(HintInputError) as caught:
        zhuyin_keys("通" * (passwordhint.MAX_INPUT + 1))
    assert caught.value.code == "too_long"


def test_a_result_that_breaks_the_policy_lists_the_violations():
    hint = zhuyin_hint("我")
    assert hint.result == "ji3"
    assert not hint.ok
    assert "too_short" in [v.code for v in hint.violations]


def test_the_policy_check_includes_ones_own_account_name():
    assert "username" in [v.code for v in zhuyin_hint("通行碼", username="wj/ vu").violations]


def test_every_violation_code_has_a_plain_explanation():
    assert set(passwordhint.EXPLANATIONS) == set(passwords.CODES)
    for code in passwords.CODES:
        text = passwordhint.explain(passwords.Violation(code, ""))
        assert text and "%" not in text


# --- 字首字尾記憶法 ---------------------------------------------------------------------


def test_initials_of_the_policys_first_example():
    # A-5 shows mFSinsC: the same letters, with the case mixed by the author's choice.
    assert initials(A5_FIRST) == "MfsinSC"
    assert initials(A5_FIRST).lower() == "mFSinsC".lower()


def test_the_policys_first_example_is_too_short_for_the_policy():
    codes = [v.code for v in initials_hint(A5_FIRST).violations]
    assert "too_short" in codes and "no_digit" in codes


def test_last_letters_of_the_policys_second_example():
    assert initials(A5_LAST, last=True) == "ee6ysnyhs"
    # A-5's Ee6ysnMEc takes the last letters of the first six words (26 → 6) ...
    assert initials(A5_LAST, last=True)[:6] == "Ee6ysnMEc"[:6].lower()
    # ... and the first letters of "my English class".
    assert initials(A5_LAST)[-3:] == "mEc"
    assert initials(A5_LAST) == "Ta2lkimEc"


def test_the_policys_second_example_meets_the_policy():
    hint = initials_hint(A5_LAST, last=True)
    assert hint.method == "last_letters" and hint.ok
    assert passwordhint.check("Ee6ysnMEc") == ()  # the policy's own result


def test_numbers_are_words_or_kept_whole():
    assert initials("We met in 1999 at NTU", whole_numbers=True) == "Wmi1999aN"
    assert initials("We met in 1999 at NTU") == "Wmi1aN"
    assert initials("We met in 1999 at NTU", last=True) == "etn9tU"


def test_words_split_on_whitespace_and_punctuation_apostrophes_stay_inside():
    assert initials("Don't stop me now, 1999!") == "Dsmn1"
    assert initials("Don't stop me now, 1999!", last=True) == "tpew9"
    assert initials("red-green/blue;  TEA") == "rgbT"
    assert initials("Ｆｕｌｌ width") == "Fw"


def test_chinese_sentences_are_sent_to_the_zhuyin_technique():
    for sentence in ("我愛台灣", "I love 台灣", "ㄊㄨㄥ"):
        with pytest.raises(HintInputError) as caught:
            initials(sentence)
        assert caught.value.code == "chinese"
        assert "中文輸入按鍵記憶法" in caught.value.message


def test_other_letters_and_sentences_without_words_are_refused():
    with pytest.raises(HintInputError) as caught:
        initials("café au lait")
    assert caught.value.code == "letters" and "「é」" in caught.value.message
    with pytest.raises(HintInputError) as caught:
        initials("... !!! ???")
    assert caught.value.code == "no_words"


# --- isms password-hint -----------------------------------------------------------------


def run(stdin: str, *args):
    """call_command with the given standard input → (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("password_hint", *args, stdin=io.StringIO(stdin), stdout=out, stderr=err)
        status = 0
    except SystemExit as exc:
        status = exc.code
    return status, out.getvalue(), err.getvalue()


def test_cli_zhuyin_prints_the_keys_and_exits_0():
    status, out, err = run("通行碼\n", "zhuyin")
    assert status == 0
    assert out == "wj/ vu/6a83\n"
    assert "ㄊㄨㄥ ㄒㄧㄥˊ ㄇㄚˇ" in err  # the readings used, to be checked
    assert "wj/␣vu/6a83" in err  # the space key made visible
    assert "不符合" not in err


def test_cli_zhuyin_warns_on_stderr_and_exits_1_when_the_policy_is_broken():
    status, out, err = run("我\n", "zhuyin")
    assert status == 1
    assert out == "ji3\n"
    assert "不符合" in err and str(passwordhint.EXPLANATIONS["too_short"]) in err


def test_cli_zhuyin_exits_2_on_bad_input():
    status, out, err = run("通行碼。\n", "zhuyin")
    assert (status, out) == (2, "")
    assert "「。」" in err


def test_cli_initials_first_and_last():
    status, out, _err = run(A5_LAST + "\n", "initials", "--last")
    assert (status, out) == (0, "ee6ysnyhs\n")
    status, out, err = run(A5_FIRST + "\n", "initials")
    assert (status, out) == (1, "MfsinSC\n")
    assert "too_short" not in err and "8" in err  # messages, not codes


def test_cli_initials_whole_numbers():
    status, out, _err = run(A5_LAST + "\n", "initials", "--last", "--whole-numbers")
    assert (status, out) == (0, "ee26ysnyhs\n")


def test_cli_initials_exits_2_on_chinese_and_on_empty_input():
    assert run("我愛台灣\n", "initials")[0] == 2
    assert run("", "initials")[0] == 2
    assert run("\n", "zhuyin")[0] == 2


def test_cli_reads_one_line_only():
    status, out, _err = run("通行碼\n我\n", "zhuyin")
    assert (status, out) == (0, "wj/ vu/6a83\n")
