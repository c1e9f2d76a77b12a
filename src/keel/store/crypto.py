"""Encryption of secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) with a key from the settings.

``KEEL_SECRET_KEY`` may be a Fernet key (``Fernet.generate_key()``) or any passphrase; a passphrase
is stretched to a key with HKDF-SHA256, which is only as strong as the passphrase, so use a long
random one. When the setting is empty (the embedded default) Keel generates a key once and keeps it
at ``<home>/secret.key`` (mode 0600). **Production must set ``KEEL_SECRET_KEY``**: the key file is
only as safe as the disk it is on, and losing it loses every secret.

Nothing here logs a value, and no ``repr`` shows a key or a plaintext.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from keel.config import Settings, private_folder
from keel.errors import ConfigError, DecryptionError

KEY_FILE = "secret.key"

_HKDF_SALT = b"keel.store.crypto/v1"
_HKDF_INFO = b"keel secrets at rest"


def fernet_key(secret_key: str) -> bytes:
    """Return the Fernet key for ``secret_key``: itself if it is one, else derived with HKDF."""
    try:
        if len(base64.urlsafe_b64decode(secret_key.encode("ascii"))) == 32:
            return secret_key.encode("ascii")
    except (binascii.Error, UnicodeEncodeError, ValueError):
        pass
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO).derive(
        secret_key.encode("utf-8")
    )
    return base64.urlsafe_b64encode(derived)


def load_or_create_key_file(home: Path) -> str:
    """Return the key kept at ``<home>/secret.key``, generating it (mode 0600) the first time."""
    path = private_folder(home, tighten=True) / KEY_FILE
    if not path.exists():
        key = Fernet.generate_key()
        try:
            # O_EXCL: when two processes race, exactly one writes and both read the same key.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as file:
                file.write(key)
    try:
        key_text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the secret key file {path}: {exc}") from exc
    if not key_text:
        raise ConfigError(f"the secret key file {path} is empty; restore it or set KEEL_SECRET_KEY")
    return key_text


class SecretCipher:
    """Encrypts and decrypts secret values with one key.

    Args:
        secret_key: A Fernet key or a passphrase (see the module docstring).
    """

    def __init__(self, secret_key: str) -> None:
        if not secret_key:
            raise ConfigError("the secret key is empty; set KEEL_SECRET_KEY")
        self._fernet = Fernet(fernet_key(secret_key))

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretCipher:
        """Return the cipher for ``KEEL_SECRET_KEY``, or for the key file in the Keel home."""
        return cls(settings.secret_key or load_or_create_key_file(settings.home))

    def __repr__(self) -> str:
        return "SecretCipher(key=<hidden>)"

    def encrypt(self, values: Mapping[str, str]) -> str:
        """Return the ciphertext (a URL-safe text token) of a secret's key/value pairs."""
        plaintext = json.dumps(dict(values), separators=(",", ":"), sort_keys=True)
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str, *, what: str = "secret") -> dict[str, str]:
        """Return the key/value pairs in ``ciphertext``.

        Raises:
            DecryptionError: The ciphertext was made with another key, or was altered.
        """
        try:
            plaintext = self._fernet.decrypt(ciphertext.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError) as exc:
            raise DecryptionError(
                f"cannot decrypt {what}: it was encrypted with a different key than the one "
                "configured (KEEL_SECRET_KEY or <home>/secret.key), or it was altered"
            ) from exc
        values = json.loads(plaintext)
        return {str(k): str(v) for k, v in values.items()}
