"""Personal data sealed at rest: never stored in clear, opened with the key, rotated."""

import pytest
from cryptography.fernet import Fernet

from isms.core import crypto


def test_sealed_text_is_not_the_text_and_opens_again(settings):
    settings.ISMS_FIELD_KEY = Fernet.generate_key().decode()
    token = crypto.seal("A123456789")
    assert "A123456789" not in token and crypto.unseal(token) == "A123456789"
    assert crypto.seal("A123456789") != token  # a fresh nonce each time
    assert crypto.seal("") == "" and crypto.unseal("") == ""


def test_another_key_cannot_open_it(settings):
    settings.ISMS_FIELD_KEY = Fernet.generate_key().decode()
    token = crypto.seal("新北市板橋區")
    settings.ISMS_FIELD_KEY = Fernet.generate_key().decode()
    with pytest.raises(crypto.SealError):
        crypto.unseal(token)


def test_a_rotated_key_still_opens_old_values(settings):
    old = Fernet.generate_key().decode()
    settings.ISMS_FIELD_KEY = old
    token = crypto.seal("A123456789")
    settings.ISMS_FIELD_KEY = f"{Fernet.generate_key().decode()},{old}"
    assert crypto.unseal(token) == "A123456789"


def test_without_a_key_one_is_derived_from_the_secret_key(settings):
    settings.ISMS_FIELD_KEY = ""
    token = crypto.seal("A123456789")
    assert crypto.unseal(token) == "A123456789"
    settings.SECRET_KEY = "another secret key of enough length for the test 0123456789"
    with pytest.raises(crypto.SealError):
        crypto.unseal(token)
