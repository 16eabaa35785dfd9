"""Personal data kept encrypted at rest (an A-8's ID number and address).

``seal(text)`` → a Fernet token (AES-128-CBC with HMAC-SHA256, from the well-kept
``cryptography`` library); ``unseal(token)`` gives the text back. The key is
``ISMS_FIELD_KEY`` (``Fernet.generate_key()``: base64 of 32 bytes) from the environment;
without it a key is derived from ``SECRET_KEY`` with HKDF, so a school that sets neither
still never stores the text in clear. Keep the key with the backups: without it a sealed
value cannot be read again. Several keys may be given, comma-separated, the first one used
to seal (a key rotation: old tokens still open).
"""

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


class SealError(Exception):
    """A sealed value that no configured key opens."""


def _keys() -> list[bytes]:
    configured = [k.strip() for k in getattr(settings, "ISMS_FIELD_KEY", "").split(",")]
    keys = [k.encode() for k in configured if k]
    if keys:
        return keys
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"campus-isms field key", info=b"seal"
    ).derive(settings.SECRET_KEY.encode())
    return [base64.urlsafe_b64encode(derived)]


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(k) for k in _keys()])


def seal(text: str) -> str:
    """The text encrypted (empty stays empty)."""
    if not text:
        return ""
    return _fernet().encrypt(text.encode("utf-8")).decode("ascii")


def unseal(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError) as exc:
        raise SealError("no configured key opens this value") from exc
