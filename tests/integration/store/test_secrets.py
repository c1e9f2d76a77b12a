"""Secrets: encrypted at rest, per environment, never shown by repr; keys and key files."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from keel.config import Settings
from keel.errors import DecryptionError, NotFoundError
from keel.store import secrets
from keel.store.crypto import SecretCipher, fernet_key
from keel.store.database import Database

pytestmark = pytest.mark.integration

PLAIN = "s3cr3t-token-value"


async def test_set_get_list_delete_per_environment(db: Database, cipher: SecretCipher) -> None:
    async with db.session() as s:
        info = await secrets.set_secret(s, cipher, "intel", {"api_key": PLAIN, "user": "bot"})
        await secrets.set_secret(s, cipher, "intel", {"api_key": "prod"}, environment="prod")
    assert info.keys == ("api_key", "user")
    async with db.session() as s:
        got = await secrets.get_secret(s, cipher, "intel")
        assert got.values == {"api_key": PLAIN, "user": "bot"}
        assert PLAIN not in repr(got)
        prod = await secrets.get_secret(s, cipher, "intel", environment="prod")
        assert prod.values == {"api_key": "prod"}
        listed = await secrets.list_secrets(s)
        assert [(i.environment, i.name, i.keys) for i in listed] == [
            ("default", "intel", ("api_key", "user")),
            ("prod", "intel", ("api_key",)),
        ]
        assert PLAIN not in repr(listed)
        await secrets.set_secret(s, cipher, "intel", {"token": "new"})
        assert (await secrets.get_secret(s, cipher, "intel")).values == {"token": "new"}
        await secrets.delete_secret(s, "intel")
        assert await secrets.find_secret(s, cipher, "intel") is None
        with pytest.raises(NotFoundError, match="secret 'default/intel' not found"):
            await secrets.get_secret(s, cipher, "intel")
        with pytest.raises(NotFoundError):
            await secrets.delete_secret(s, "intel")


async def test_values_are_encrypted_at_rest(db: Database, cipher: SecretCipher) -> None:
    async with db.session() as s:
        await secrets.set_secret(s, cipher, "intel", {"api_key": PLAIN})
    async with db.engine.connect() as connection:
        rows = (await connection.execute(text("SELECT * FROM secrets"))).all()
    assert len(rows) == 1
    assert PLAIN not in str(tuple(rows[0]))


async def test_wrong_key_fails_clearly_and_reencrypt_rotates(
    db: Database, cipher: SecretCipher
) -> None:
    other = SecretCipher(Fernet.generate_key().decode())
    async with db.session() as s:
        await secrets.set_secret(s, cipher, "intel", {"api_key": PLAIN})
    async with db.session() as s:
        with pytest.raises(DecryptionError, match=r"secret 'default/intel'.*KEEL_SECRET_KEY"):
            await secrets.get_secret(s, other, "intel")
        assert await secrets.reencrypt_secrets(s, cipher, other) == 1
    async with db.session() as s:
        assert (await secrets.get_secret(s, other, "intel")).values == {"api_key": PLAIN}


async def test_store_provider_reads_secrets(
    db: Database, cipher: SecretCipher, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with db.session() as s:
        await secrets.set_secret(s, cipher, "intel", {"api_key": PLAIN})
    provider = secrets.StoreSecrets(db, cipher)
    assert await provider.get("intel", "default") == {"api_key": PLAIN}
    assert await provider.get("intel", "prod") is None
    assert PLAIN not in caplog.text


def test_cipher_accepts_a_fernet_key_or_a_passphrase() -> None:
    key = Fernet.generate_key().decode()
    assert fernet_key(key) == key.encode()
    assert Fernet(fernet_key("any passphrase at all"))  # derived: a valid Fernet key
    assert fernet_key("a") != fernet_key("b")
    cipher = SecretCipher(key)
    assert key not in repr(cipher)
    assert SecretCipher(key).decrypt(cipher.encrypt({"k": "v"})) == {"k": "v"}


def test_key_file_is_created_once_with_private_mode(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", secret_key="")
    first = SecretCipher.from_settings(settings)
    key_file = tmp_path / "home" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    token = first.encrypt({"k": "v"})
    assert SecretCipher.from_settings(settings).decrypt(token) == {"k": "v"}
    explicit = SecretCipher.from_settings(Settings(home=tmp_path / "x", secret_key="passphrase"))
    assert not (tmp_path / "x").exists()
    assert explicit.decrypt(SecretCipher("passphrase").encrypt({"a": "b"})) == {"a": "b"}
