"""The product backs itself up (2.4.1) and proves that its backups restore (2.4.2).

``isms backup`` writes one archive file, ``isms-backup-<Taipei time>.tar.gz`` (or
``….tar.gz.enc`` when encrypted), holding:

- ``database/isms.sqlite3`` (SQLite's online backup API: a consistent copy while the
  product runs) or ``database/isms.pgdump`` (``pg_dump`` custom format, taken in the same
  exported snapshot in which the rows were counted);
- ``media/…``: every uploaded file under MEDIA_ROOT;
- ``manifest.json`` (the last member): format version, creation time, database vendor,
  the Django migrations applied, the row count of every table and the SHA-256 and size of
  every other member.

An encrypted archive is the same ``.tar.gz`` stream sealed with AES-256-GCM in 1 MiB
chunks under a key derived from the passphrase with scrypt (a key-check tag tells a wrong
passphrase from a damaged file; each chunk is numbered and the last one marked, so
reordering, removal or truncation is detected).

Every archive made is recorded as a run of the product's own plan (also a failed one).
``isms restore --verify`` reads the whole archive, checks every member against the
manifest, restores the database into a scratch database (a temporary SQLite file, or a
PostgreSQL database created and dropped around ``pg_restore``), compares the row count of
every table with the manifest and records a restore test. ``isms restore`` makes the same
checks first and changes nothing unless all of them pass and the operator confirms; then
it replaces the database in one transaction and swaps the uploaded files in with one
rename. Everything streams in 1 MiB pieces: no file is read into memory whole.
"""

import contextlib
import datetime as dt
import gzip
import hashlib
import io
import json
import os
import secrets
import shutil
import sqlite3
import stat
import struct
import subprocess
import tarfile
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from isms.audit import trail
from isms.core.access import has_role
from isms.core.roc import format_roc_datetime
from isms.core.roles import SYSADMIN

from . import backups
from .models import BackupPlan, BackupRun, RestoreTest

FORMAT = "isms-backup"
FORMAT_VERSION = 1
CHUNK = 1 << 20
MANIFEST = "manifest.json"
MANIFEST_MAX_BYTES = 256 << 20
DATABASE_PREFIX = "database/"
MEDIA_PREFIX = "media/"
DATABASE_FILES = {"sqlite": "database/isms.sqlite3", "postgresql": "database/isms.pgdump"}
VENDOR_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
PASSPHRASE_ENV = "ISMS_BACKUP_PASSPHRASE"
MIN_PASSPHRASE_LENGTH = 12
LABEL_BACKUP = "isms backup"
LABEL_RESTORE = "isms restore"

# Encrypted form: MAGIC, version, scrypt log2(n), r, p, salt, nonce prefix, key-check tag,
# then records of (4-byte big-endian length, AES-GCM ciphertext of at most CHUNK bytes).
ENC_MAGIC = b"ISMSBKE1"
ENC_VERSION = 1
SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P = 15, 8, 1
SALT_BYTES, PREFIX_BYTES, TAG_BYTES = 16, 7, 16
ENC_HEADER_BYTES = len(ENC_MAGIC) + 4 + SALT_BYTES + PREFIX_BYTES
GZIP_MAGIC = b"\x1f\x8b"


class BackupError(Exception):
    """A failure to tell the operator (a zh-TW sentence); the command exits with status 1."""


class ArchiveError(BackupError):
    """The archive cannot be trusted. ``member`` names the file inside it that failed;
    ``recordable`` is true when the file was an archive of ours that could be opened (so
    a failed restore test is evidence worth keeping), false for a wrong passphrase or a
    file that is no archive at all."""

    def __init__(self, message: str, member: str = "", *, recordable: bool = True, problems=()):
        super().__init__(message)
        self.member = member
        self.recordable = recordable
        self.problems = list(problems) or [(member, message)]


class PartlyRestored(BackupError):
    """The restore changed the data but did not end as it should (the message says what
    is left to do)."""


# Streams ---------------------------------------------------------------------------------------
class _HashingWriter:
    def __init__(self, raw):
        self.raw, self.sha, self.size = raw, hashlib.sha256(), 0

    def write(self, data) -> int:
        self.sha.update(data)
        self.size += len(data)
        return self.raw.write(data)

    def flush(self):
        self.raw.flush()


class _HashingReader:
    def __init__(self, raw):
        self.raw, self.sha, self.size = raw, hashlib.sha256(), 0

    def read(self, n=-1) -> bytes:
        data = self.raw.read(n)
        self.sha.update(data)
        self.size += len(data)
        return data

    def hexdigest(self) -> str:
        return self.sha.hexdigest()


def _derive_key(passphrase: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=1 << log2_n, r=r, p=p).derive(passphrase.encode())


def _nonce(prefix: bytes, index: int, final: bool) -> bytes:
    return prefix + index.to_bytes(4, "big") + (b"\x01" if final else b"\x00")


class _EncryptingWriter:
    """AES-256-GCM in numbered chunks; ``close()`` writes the last (marked) chunk."""

    def __init__(self, raw, passphrase: str):
        salt, prefix = secrets.token_bytes(SALT_BYTES), secrets.token_bytes(PREFIX_BYTES)
        params = struct.pack(">BBBB", ENC_VERSION, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P)
        self.header = ENC_MAGIC + params + salt + prefix
        self.aes = AESGCM(_derive_key(passphrase, salt, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P))
        self.prefix, self.raw, self.index, self.buffer = prefix, raw, 0, bytearray()
        check = self.aes.encrypt(prefix + b"\xff\xff\xff\xff\x02", b"", self.header)
        raw.write(self.header + check)

    def _seal(self, data: bytes, final: bool) -> None:
        sealed = self.aes.encrypt(_nonce(self.prefix, self.index, final), data, self.header)
        self.raw.write(len(sealed).to_bytes(4, "big") + sealed)
        self.index += 1

    def write(self, data) -> int:
        self.buffer += data
        # Keep at least one byte back: the last chunk is sealed as last only in close().
        while len(self.buffer) > CHUNK:
            self._seal(bytes(self.buffer[:CHUNK]), final=False)
            del self.buffer[:CHUNK]
        return len(data)

    def flush(self):
        pass

    def close(self) -> None:
        self._seal(bytes(self.buffer), final=True)
        self.buffer.clear()


def _read_exact(raw, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        piece = raw.read(n - len(data))
        if not piece:
            break
        data += piece
    return bytes(data)


class _DecryptingReader:
    def __init__(self, raw, passphrase: str | None):
        header = _read_exact(raw, ENC_HEADER_BYTES)
        check = _read_exact(raw, TAG_BYTES)
        if len(header) < ENC_HEADER_BYTES or len(check) < TAG_BYTES:
            raise ArchiveError(_("封存檔不完整：加密檔頭被截斷。"))
        version, log2_n, r, p = struct.unpack(">BBBB", header[8:12])
        if version != ENC_VERSION or not (10 <= log2_n <= 20 and 1 <= r <= 16 and 1 <= p <= 4):
            raise ArchiveError(_("不支援的加密封存檔版本或參數。"), recordable=False)
        if not passphrase:
            raise ArchiveError(
                _(
                    "此封存檔已加密：請以 --passphrase-file 或環境變數 %(env)s 提供密碼，"
                    "或在終端機中執行以輸入密碼。"
                )
                % {"env": PASSPHRASE_ENV},
                recordable=False,
            )
        salt = header[12 : 12 + SALT_BYTES]
        self.prefix = header[12 + SALT_BYTES :]
        self.aes = AESGCM(_derive_key(passphrase, salt, log2_n, r, p))
        self.header, self.raw = header, raw
        try:
            self.aes.decrypt(self.prefix + b"\xff\xff\xff\xff\x02", check, header)
        except InvalidTag:
            raise ArchiveError(_("密碼錯誤：無法解密此封存檔。"), recordable=False) from None
        self.index, self.done, self.buffer = 0, False, bytearray()
        self.pending = self._record()

    def _record(self) -> bytes | None:
        length = _read_exact(self.raw, 4)
        if not length:
            return None
        size = int.from_bytes(length, "big") if len(length) == 4 else -1
        if not TAG_BYTES <= size <= CHUNK + TAG_BYTES:
            raise ArchiveError(_("封存檔已損毀：加密區塊的長度不正確。"))
        sealed = _read_exact(self.raw, size)
        if len(sealed) < size:
            raise ArchiveError(_("封存檔不完整：檔案被截斷。"))
        return sealed

    def _next(self) -> bytes:
        sealed = self.pending
        if sealed is None:
            raise ArchiveError(_("封存檔不完整：檔案被截斷。"))
        self.pending = self._record()
        final = self.pending is None
        try:
            data = self.aes.decrypt(_nonce(self.prefix, self.index, final), sealed, self.header)
        except InvalidTag:
            raise ArchiveError(_("封存檔的加密區塊驗證失敗：內容已被變更、截斷或損毀。")) from None
        self.index += 1
        self.done = final
        return data

    def read(self, n=-1) -> bytes:
        while not self.done and (n is None or n < 0 or len(self.buffer) < n):
            self.buffer += self._next()
        if n is None or n < 0:
            n = len(self.buffer)
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data


# Passphrases -----------------------------------------------------------------------------------
def check_new_passphrase(passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise BackupError(_("加密密碼至少需 %(n)d 個字元。") % {"n": MIN_PASSPHRASE_LENGTH})


def read_passphrase_file(path) -> str:
    """The first line of a file (its line end removed); read at most 4 KiB."""
    try:
        with open(path, "rb") as f:
            data = f.read(4096)
    except OSError as exc:
        raise BackupError(
            _("無法讀取密碼檔 %(path)s：%(error)s") % {"path": path, "error": exc.strerror}
        ) from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BackupError(_("密碼檔須為 UTF-8 文字。")) from None
    passphrase = text.splitlines()[0] if text else ""
    if not passphrase:
        raise BackupError(_("密碼檔 %(path)s 的第一行是空的。") % {"path": path})
    return passphrase


def env_passphrase() -> str | None:
    return os.environ.get(PASSPHRASE_ENV) or None


def is_encrypted(path) -> bool:
    return _sniff(Path(path)) == "encrypted"


def _sniff(path: Path) -> str:
    try:
        with open(path, "rb") as f:
            head = f.read(len(ENC_MAGIC))
    except FileNotFoundError:
        raise ArchiveError(
            _("找不到封存檔 %(path)s。") % {"path": path}, recordable=False
        ) from None
    except IsADirectoryError:
        raise ArchiveError(
            _("%(path)s 是目錄，不是封存檔。") % {"path": path}, recordable=False
        ) from None
    except OSError as exc:
        raise ArchiveError(
            _("無法讀取封存檔 %(path)s：%(error)s") % {"path": path, "error": exc.strerror},
            recordable=False,
        ) from exc
    if head == ENC_MAGIC:
        return "encrypted"
    if head[:2] == GZIP_MAGIC:
        return "plain"
    raise ArchiveError(_("%(path)s 不是本平台的備份封存檔。") % {"path": path}, recordable=False)


# People and the product's plan -----------------------------------------------------------------
def resolve_user(username: str | None):
    """The person named with ``--user``: an active system administrator (or superuser)."""
    if not username:
        return None
    from isms.core.models import User

    user = User.objects.filter(username=username).first()
    if user is None:
        raise BackupError(_("沒有使用者「%(name)s」。") % {"name": username})
    if not user.is_active:
        raise BackupError(_("使用者「%(name)s」已停用。") % {"name": username})
    if not has_role(user, SYSADMIN):
        raise BackupError(
            _("使用者「%(name)s」不是系統管理人員：備份與還原測試由系統管理人員執行（條文 2.4）。")
            % {"name": username}
        )
    return user


def default_dir() -> Path:
    configured = getattr(settings, "ISMS_BACKUP_DIR", None)
    return Path(configured) if configured else Path(settings.DATA_DIR) / "backups"


def product_plan(*, user=None, destination: str = "") -> BackupPlan:
    """The product's own plan, made on first use with ``user`` (or the first active
    superuser) responsible for it."""
    plan = BackupPlan.objects.filter(is_product=True).select_related("responsible").first()
    if plan is not None:
        return plan
    from isms.core.models import User

    # The first active superuser; one who is also a system administrator if there is one.
    superusers = User.objects.filter(is_superuser=True, is_active=True)
    responsible = (
        user
        or superusers.filter(groups__name=SYSADMIN).order_by("pk").first()
        or superusers.order_by("pk").first()
    )
    if responsible is None:
        raise BackupError(
            _(
                "本平台自身的備份計畫需要一位負責人：請以 --user 指定系統管理人員的帳號，"
                "或先建立啟用中的超級使用者（isms createsuperuser）。"
            )
        )
    plan = BackupPlan(
        name=_("校園資安管理平台本身"),
        is_product=True,
        contents=[BackupPlan.Content.DATABASE, BackupPlan.Content.USER_FILES],
        method=_(
            "isms backup 指令：資料庫（SQLite 線上備份或 pg_dump）與上傳檔案打包為單一封存檔，"
            "附各檔案的 SHA-256 檢查碼清單，可加密（AES-256-GCM）。"
        ),
        destination=(destination or str(default_dir()))[:300],
        responsible=responsible,
    )
    errors = backups.plan_errors(plan)
    if responsible.is_superuser:
        # A fresh install has a superuser before anyone holds the administrator role; the
        # plan's page asks for an administrator when the plan is next edited.
        errors.pop("responsible", None)
    if errors:
        raise BackupError("".join(str(message) for message in errors.values()))
    try:
        with transaction.atomic(), trail.acting_as(user, label=LABEL_BACKUP):
            plan.save()
    except IntegrityError:
        # Made at the same moment by another run (one product plan at most).
        return BackupPlan.objects.get(is_product=True)
    backups._refresh(backups.BACKUP_DUTY, backups.RESTORE_DUTY)  # a new subject of both
    return plan


# The database ----------------------------------------------------------------------------------
def vendor() -> str:
    if connection.vendor not in DATABASE_FILES:
        raise BackupError(
            _("不支援備份此種資料庫（%(vendor)s）：僅支援 SQLite 與 PostgreSQL。")
            % {"vendor": connection.vendor}
        )
    return connection.vendor


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sqlite_tables(con) -> list[str]:
    rows = con.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' "
        "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
    )
    return [row[0] for row in rows]


def _sqlite_counts(con) -> dict[str, int]:
    return {
        table: con.execute(f"SELECT COUNT(*) FROM {_quote(table)}").fetchone()[0]
        for table in _sqlite_tables(con)
    }


def _migrations_from(rows) -> dict[str, list[str]]:
    applied: dict[str, list[str]] = {}
    for app, name in rows:
        applied.setdefault(app, []).append(name)
    return {app: sorted(names) for app, names in sorted(applied.items())}


def _sqlite_migrations(con) -> dict[str, list[str]]:
    if "django_migrations" not in _sqlite_tables(con):
        return {}
    return _migrations_from(con.execute("SELECT app, name FROM django_migrations"))


PG_TABLES = (
    "SELECT schemaname, tablename FROM pg_catalog.pg_tables "
    "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') "
    "AND schemaname NOT LIKE 'pg\\_%' ORDER BY schemaname, tablename"
)


def _pg_counts(cursor) -> dict[str, int]:
    cursor.execute(PG_TABLES)
    counts = {}
    for schema, table in cursor.fetchall():
        cursor.execute(f"SELECT COUNT(*) FROM {_quote(schema)}.{_quote(table)}")
        key = table if schema == "public" else f"{schema}.{table}"
        counts[key] = cursor.fetchone()[0]
    return counts


def _pg_migrations(cursor, tables) -> dict[str, list[str]]:
    if "django_migrations" not in tables:
        return {}
    cursor.execute("SELECT app, name FROM django_migrations")
    return _migrations_from(cursor.fetchall())


def _pg_wrapper(name: str | None = None):
    """A separate Django connection to the configured server (to ``name`` if given)."""
    live = connections[DEFAULT_DB_ALIAS]
    params = dict(live.settings_dict)
    if name:
        params["NAME"] = name
    return type(live)(params, alias=live.alias)


def _pg_env() -> dict:
    from django.db.backends.postgresql.client import DatabaseClient

    _args, env = DatabaseClient.settings_to_cmd_args_env(connection.settings_dict, [])
    return {**os.environ, **(env or {})}


def _pg_args(dbname: str) -> list[str]:
    s = connection.settings_dict
    args = []
    if s.get("USER"):
        args += ["-U", s["USER"]]
    if s.get("HOST"):
        args += ["-h", str(s["HOST"])]
    if s.get("PORT"):
        args += ["-p", str(s["PORT"])]
    return [*args, "-d", dbname]


def _run(args: list[str], *, what: str, **kwargs) -> None:
    try:
        done = subprocess.run(
            args, env=_pg_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kwargs
        )
    except FileNotFoundError:
        raise BackupError(
            _("找不到 %(program)s：請安裝 PostgreSQL 用戶端工具（postgresql-client）。")
            % {"program": args[0]}
        ) from None
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip()[-2000:]
        raise BackupError(
            _("%(what)s失敗（%(program)s 結束代碼 %(code)d）：%(detail)s")
            % {"what": what, "program": args[0], "code": done.returncode, "detail": detail}
        )


@dataclass
class Dump:
    path: Path
    member: str
    vendor: str
    server_version: str
    tables: dict
    migrations: dict


def _dump_database(work: Path) -> Dump:
    kind = vendor()
    if kind == "sqlite":
        if connection.in_atomic_block:
            # SQLite refuses to copy from a connection in the middle of a write.
            raise BackupError(_("SQLite 資料庫不能在交易進行中備份。"))
        target = work / "isms.sqlite3"
        connection.ensure_connection()
        copy = sqlite3.connect(target)
        try:
            # One step: a consistent copy; in WAL mode the product keeps writing meanwhile.
            connection.connection.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")
            tables, migrations = _sqlite_counts(copy), _sqlite_migrations(copy)
        finally:
            copy.close()
        return Dump(target, DATABASE_FILES[kind], kind, sqlite3.sqlite_version, tables, migrations)
    target = work / "isms.pgdump"
    snap = _pg_wrapper()
    snap.ensure_connection()
    try:
        snap.set_autocommit(False)
        with snap.cursor() as cursor:
            # Rows are counted in the very snapshot pg_dump reads.
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot(), current_setting('server_version')")
            snapshot, server_version = cursor.fetchone()
            tables = _pg_counts(cursor)
            migrations = _pg_migrations(cursor, tables)
        name = connection.settings_dict["NAME"]
        _run(
            [
                "pg_dump",
                "--format=custom",
                f"--snapshot={snapshot}",
                "--file",
                str(target),
                *_pg_args(name),
            ],
            what=_("資料庫傾印（pg_dump）"),
        )
    finally:
        with contextlib.suppress(Exception):
            snap.rollback()
        snap.close()
    return Dump(target, DATABASE_FILES[kind], kind, server_version, tables, migrations)


# Uploaded files --------------------------------------------------------------------------------
def media_root() -> Path:
    storage = default_storage
    if not isinstance(storage, FileSystemStorage):
        raise BackupError(
            _(
                "上傳檔案存放於物件儲存（%(storage)s），isms backup 無法備份：請以該儲存服務的"
                "版本控制或備份功能保存。"
            )
            % {"storage": type(storage).__name__}
        )
    return Path(storage.location).resolve()


def _inside(path: Path, folder: Path) -> bool:
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


def _media_files(root: Path):
    """(member name, path) of every regular file under root, sorted; symlinks skipped."""
    if not root.is_dir():
        return
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            if path.is_symlink():
                continue  # the product never makes links; one pointing out is not ours
            yield MEDIA_PREFIX + path.relative_to(root).as_posix(), path


# Writing an archive ----------------------------------------------------------------------------
class _HashedFile:
    """Reads a file for tarfile while hashing what it read."""

    def __init__(self, f):
        self.f, self.sha = f, hashlib.sha256()

    def read(self, n=-1) -> bytes:
        data = self.f.read(n)
        self.sha.update(data)
        return data


def _add_file(tar, name: str, path: Path) -> dict | None:
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return None  # removed since it was listed
    with f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            return None
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = st.st_size, int(st.st_mtime), 0o600
        hashed = _HashedFile(f)
        tar.addfile(info, hashed)
    return {"sha256": hashed.sha.hexdigest(), "size": info.size}


def _add_bytes(tar, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(mtime), 0o600
    tar.addfile(info, io.BytesIO(data))


def _unique_path(folder: Path, stem: str, suffix: str) -> Path:
    """A new, empty file ``stem[-n]suffix`` in folder (created exclusively, mode 0600)."""
    for n in range(1, 1000):
        path = folder / (f"{stem}{suffix}" if n == 1 else f"{stem}-{n}{suffix}")
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            continue
        return path
    raise BackupError(_("備份目錄中同名的封存檔太多。"))


@dataclass
class BackupResult:
    path: Path
    sha256: str
    size: int
    encrypted: bool
    manifest: dict
    run: BackupRun | None
    warnings: list = field(default_factory=list)


def _write_archive(output_dir: Path, passphrase: str | None, now: dt.datetime):
    media = media_root()
    stamp = timezone.localtime(now).strftime("%Y%m%d-%H%M%S")
    suffix = ".tar.gz.enc" if passphrase else ".tar.gz"
    with tempfile.TemporaryDirectory(dir=output_dir, prefix=".isms-backup-") as work:
        work = Path(work)
        dump = _dump_database(work)
        partial = work / "archive.partial"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw:
            hashing = _HashingWriter(raw)
            sealed = _EncryptingWriter(hashing, passphrase) if passphrase else None
            gz = gzip.GzipFile(
                filename="", mode="wb", fileobj=sealed or hashing, compresslevel=6, mtime=0
            )
            files: dict[str, dict] = {}
            media_bytes = 0
            with tarfile.open(
                fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT, copybufsize=CHUNK
            ) as tar:
                files[dump.member] = _add_file(tar, dump.member, dump.path)
                for name, path in _media_files(media):
                    entry = _add_file(tar, name, path)
                    if entry is not None:
                        files[name] = entry
                        media_bytes += entry["size"]
                manifest = {
                    "format": FORMAT,
                    "format_version": FORMAT_VERSION,
                    "created_at": timezone.localtime(now).isoformat(),
                    "encrypted": bool(passphrase),
                    "database": {
                        "vendor": dump.vendor,
                        "file": dump.member,
                        "server_version": dump.server_version,
                        "tables": dump.tables,
                    },
                    "migrations": dump.migrations,
                    "media": {"files": len(files) - 1, "bytes": media_bytes},
                    "files": files,
                }
                data = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True)
                _add_bytes(tar, MANIFEST, data.encode(), now.timestamp())
            gz.close()
            if sealed is not None:
                sealed.close()
            raw.flush()
            os.fsync(raw.fileno())
        final = _unique_path(output_dir, f"isms-backup-{stamp}", suffix)
        os.replace(partial, final)
    return final, hashing.sha.hexdigest(), hashing.size, manifest


def describe(manifest: dict) -> str:
    tables = manifest["database"]["tables"]
    return _(
        "%(vendor)s 資料庫 %(tables)d 個資料表共 %(rows)d 筆資料，上傳檔案 %(files)d 個"
        "（%(bytes)d 位元組）"
    ) % {
        "vendor": VENDOR_NAMES.get(manifest["database"]["vendor"], manifest["database"]["vendor"]),
        "tables": len(tables),
        "rows": sum(tables.values()),
        "files": manifest["media"]["files"],
        "bytes": manifest["media"]["bytes"],
    }


def backup(*, output_dir=None, passphrase: str | None = None, user=None) -> BackupResult:
    """Write an archive into ``output_dir`` and record it as a run of the product's plan
    (a failed run when it fails, and then BackupError)."""
    output_dir = Path(output_dir or default_dir()).expanduser().resolve()
    if passphrase is not None:
        check_new_passphrase(passphrase)
    vendor()
    media = media_root()
    if _inside(output_dir, media):
        raise BackupError(
            _(
                "備份目錄 %(dir)s 位於上傳檔案目錄 %(media)s 之內，封存檔會備份到自己："
                "請改用其他目錄。"
            )
            % {"dir": output_dir, "media": media}
        )
    if output_dir.exists() and not output_dir.is_dir():
        raise BackupError(_("%(dir)s 不是目錄。") % {"dir": output_dir})
    plan = product_plan(user=user, destination=str(output_dir))
    started = timezone.now()
    warnings = []
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        path, sha, size, manifest = _write_archive(output_dir, passphrase, started)
    except Exception as exc:
        if isinstance(exc, BackupError):
            reason = str(exc)
        elif isinstance(exc, OSError):
            reason = f"{exc.strerror or exc}: {exc.filename or ''}".strip(": ")
        else:
            reason = f"{type(exc).__name__}: {exc}"
        message = _("備份失敗：%(reason)s") % {"reason": reason}
        try:
            recorded = _record_run(
                plan, user, started, BackupRun.Status.FAILED, log=message, warnings=warnings
            )
        except Exception as failure:  # the database itself may be what failed
            recorded = None
            warnings.append(_("備份紀錄未能寫入：%(errors)s") % {"errors": failure})
        if recorded is not None:
            message += "\n" + _("已記錄為失敗的備份。")
        raise BackupError("\n".join([message, *warnings])) from exc
    log = _("封存檔 %(name)s：%(what)s；%(enc)s。SHA-256 %(sha)s。") % {
        "name": path.name,
        "what": describe(manifest),
        "enc": _("已加密") if passphrase else _("未加密"),
        "sha": sha,
    }
    run = _record_run(
        plan,
        user,
        started,
        BackupRun.Status.SUCCEEDED,
        log=log,
        size=size,
        checksum=sha,
        location=str(path),
        warnings=warnings,
    )
    return BackupResult(path, sha, size, bool(passphrase), manifest, run, warnings)


def _record_run(plan, user, started, status, *, log, warnings, size=None, checksum="", location=""):
    plan.refresh_from_db()
    if plan.voided_at is not None:
        warnings.append(_("本平台自身的備份計畫已作廢，這次備份未記錄為備份紀錄。"))
        return None
    run = BackupRun(
        plan=plan,
        started_at=started,
        finished_at=timezone.now(),
        status=status,
        size_bytes=size,
        checksum=checksum,
        location=location[:500],
        log=log,
    )
    try:
        with trail.acting_as(user, label=LABEL_BACKUP):
            return backups.record_run(run, actor=user, source=BackupRun.Source.PRODUCT)
    except ValidationError as exc:
        warnings.append(_("備份紀錄未能寫入：%(errors)s") % {"errors": "".join(exc.messages)})
        return None


# Reading an archive ----------------------------------------------------------------------------
def _member_problem(info: tarfile.TarInfo) -> str:
    name = info.name
    if not info.isreg():
        return _("封存檔中的 %(member)s 不是一般檔案。") % {"member": name}
    parts = PurePosixPath(name).parts
    if (
        not name
        or name.startswith("/")
        or "\x00" in name
        or any(part in ("", ".", "..") for part in name.split("/"))
    ):
        return _("封存檔中的 %(member)s 路徑不安全。") % {"member": name}
    if name == MANIFEST:
        return ""
    if name.startswith(DATABASE_PREFIX) and len(parts) == 2:
        return ""
    if name.startswith(MEDIA_PREFIX) and len(parts) >= 2:
        return ""
    return _("封存檔中的 %(member)s 不屬於備份內容。") % {"member": name}


@dataclass
class Opened:
    path: Path
    manifest: dict
    sha256: str
    size: int
    database: Path
    members: int


def _open_stream(raw, kind: str, passphrase: str | None):
    return _DecryptingReader(raw, passphrase) if kind == "encrypted" else raw


def _read_archive(path: Path, passphrase: str | None, work: Path, media_dir: Path | None):
    """Read the whole archive once: the database into ``work``, media into ``media_dir``
    (or only hashed), every member checked against the manifest."""
    kind = _sniff(path)
    seen: dict[str, tuple[str, int]] = {}
    manifest_data = None
    database = None
    current, after = "", ""
    with open(path, "rb") as f:
        hashing = _HashingReader(f)
        try:
            stream = _open_stream(hashing, kind, passphrase)
            gz = gzip.GzipFile(fileobj=stream, mode="rb")
            with tarfile.open(fileobj=gz, mode="r|", copybufsize=CHUNK) as tar:
                for info in tar:
                    current = info.name
                    problem = _member_problem(info)
                    if problem:
                        raise ArchiveError(problem, info.name)
                    if info.name in seen:
                        raise ArchiveError(
                            _("封存檔中的 %(member)s 重複出現。") % {"member": info.name},
                            info.name,
                        )
                    target = None
                    if info.name == MANIFEST:
                        if info.size > MANIFEST_MAX_BYTES:
                            raise ArchiveError(_("manifest.json 過大。"), MANIFEST)
                    elif info.name.startswith(DATABASE_PREFIX):
                        if database is not None:
                            raise ArchiveError(
                                _("封存檔中有多個資料庫檔案（%(member)s）。")
                                % {"member": info.name},
                                info.name,
                            )
                        target = database = work / PurePosixPath(info.name).name
                    elif media_dir is not None:
                        target = media_dir.joinpath(*PurePosixPath(info.name).parts[1:])
                    seen[info.name], data = _copy_member(tar, info, target)
                    if info.name == MANIFEST:
                        manifest_data = data
                    after, current = info.name, ""
                # The rest of the stream: the gzip trailer (CRC) and the last sealed chunk.
                while gz.read(CHUNK):
                    pass
            while hashing.read(CHUNK):
                pass
        except ArchiveError as exc:
            if exc.member or not (current or after):
                raise
            raise _located(str(exc), current, after) from None
        except (EOFError, zlib.error, gzip.BadGzipFile, tarfile.TarError) as exc:
            raise _located(
                _("封存檔已損毀或被截斷（%(error)s）。") % {"error": exc}, current, after
            ) from None
    manifest = _check_manifest(manifest_data, seen)
    if database is None or manifest["database"]["file"] not in seen:
        member = manifest["database"].get("file", DATABASE_PREFIX)
        raise ArchiveError(_("封存檔缺少資料庫檔案 %(member)s。") % {"member": member}, member)
    return Opened(path, manifest, hashing.hexdigest(), hashing.size, database, len(seen))


def _located(message: str, current: str, after: str) -> ArchiveError:
    if current:
        where = _("讀取 %(member)s 時發現：") % {"member": current}
        return ArchiveError(where + message, current)
    where = _("讀取 %(member)s 之後的內容時發現：") % {"member": after}
    return ArchiveError(where + message, after)


def _copy_member(tar, info, target: Path | None):
    source = tar.extractfile(info)
    sha, size = hashlib.sha256(), 0
    keep = bytearray() if info.name == MANIFEST else None
    out = None
    try:
        if target is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            out = open(target, "xb")  # noqa: SIM115 - closed below
        while True:
            data = source.read(CHUNK)
            if not data:
                break
            sha.update(data)
            size += len(data)
            if out is not None:
                out.write(data)
            if keep is not None:
                keep += data
    except (FileExistsError, NotADirectoryError, IsADirectoryError):
        raise ArchiveError(
            _("封存檔中的 %(member)s 與其他檔案的路徑衝突。") % {"member": info.name}, info.name
        ) from None
    finally:
        if out is not None:
            out.close()
    if out is not None:
        os.utime(target, (info.mtime, info.mtime))
    return (sha.hexdigest(), size), (bytes(keep) if keep is not None else None)


def _check_manifest(data: bytes | None, seen: dict) -> dict:
    if data is None:
        raise ArchiveError(_("封存檔缺少 manifest.json（檢查碼清單）。"), MANIFEST)
    try:
        manifest = json.loads(data.decode("utf-8"))
        files = manifest["files"]
        tables = manifest["database"]["tables"]
        ok = (
            manifest.get("format") == FORMAT
            and isinstance(files, dict)
            and isinstance(tables, dict)
            and all(isinstance(n, int) for n in tables.values())
            and manifest["database"]["vendor"] in DATABASE_FILES
            and isinstance(manifest["database"]["file"], str)
            and isinstance(manifest["created_at"], str)
            and isinstance(manifest.get("migrations", {}), dict)
            and all(
                isinstance(names, list) and all(isinstance(n, str) for n in names)
                for names in manifest.get("migrations", {}).values()
            )
            and isinstance(manifest["media"]["files"], int)
            and isinstance(manifest["media"]["bytes"], int)
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        ok = False
    if not ok:
        raise ArchiveError(_("manifest.json 無法讀取或格式不正確。"), MANIFEST)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ArchiveError(
            _("不支援的封存檔格式版本 %(version)s。") % {"version": manifest.get("format_version")},
            MANIFEST,
        )
    problems = []
    for name in sorted(set(seen) - {MANIFEST} - set(files)):
        problems.append(
            (name, _("封存檔中的 %(member)s 不在檢查碼清單中（被加入的檔案）。") % {"member": name})
        )
    for name, expected in sorted(files.items()):
        if name not in seen:
            problems.append(
                (name, _("封存檔缺少 %(member)s（清單中有，封存檔中沒有）。") % {"member": name})
            )
            continue
        sha, size = seen[name]
        if not isinstance(expected, dict) or expected.get("sha256") != sha:
            problems.append(
                (
                    name,
                    _("%(member)s 的 SHA-256 檢查碼不符：內容已被變更或損毀。") % {"member": name},
                )
            )
        elif expected.get("size") != size:
            problems.append((name, _("%(member)s 的大小不符。") % {"member": name}))
    if problems:
        first, message = problems[0]
        if len(problems) > 1:
            message += _("（另有 %(n)d 個檔案不符）") % {"n": len(problems) - 1}
        raise ArchiveError(message, first, problems=problems)
    return manifest


# Checking a restored database ------------------------------------------------------------------
@dataclass
class DatabaseCheck:
    usable: bool
    complete: bool
    restored_to: str
    problems: list = field(default_factory=list)


def _compare_counts(expected: dict, actual: dict) -> list[str]:
    problems = []
    for table in sorted(set(expected) | set(actual)):
        if table not in actual:
            problems.append(_("資料表 %(table)s 未還原。") % {"table": table})
        elif table not in expected:
            problems.append(_("資料表 %(table)s 不在清單中。") % {"table": table})
        elif expected[table] != actual[table]:
            problems.append(
                _("資料表 %(table)s：清單記載 %(expected)d 筆，還原後 %(actual)d 筆。")
                % {"table": table, "expected": expected[table], "actual": actual[table]}
            )
    return problems


def _check_sqlite(opened: Opened) -> DatabaseCheck:
    restored_to = _("暫存 SQLite 資料庫（檢查後即刪除）")
    try:
        con = sqlite3.connect(opened.database)
        try:
            result = [row[0] for row in con.execute("PRAGMA integrity_check")]
            if result != ["ok"]:
                return DatabaseCheck(
                    False,
                    False,
                    restored_to,
                    [_("資料庫完整性檢查失敗：%(detail)s") % {"detail": "; ".join(result[:5])}],
                )
            counts = _sqlite_counts(con)
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        return DatabaseCheck(
            False, False, restored_to, [_("資料庫無法開啟：%(error)s") % {"error": exc}]
        )
    problems = _compare_counts(opened.manifest["database"]["tables"], counts)
    return DatabaseCheck(True, not problems, restored_to, problems)


def _check_postgresql(opened: Opened) -> DatabaseCheck:
    if connection.vendor != "postgresql":
        raise BackupError(
            _("此封存檔的資料庫為 PostgreSQL：請在設定 PostgreSQL（DATABASE_URL）的主機上檢查。")
        )
    scratch = f"isms_verify_{secrets.token_hex(6)}"
    restored_to = _("暫存 PostgreSQL 資料庫 %(name)s（檢查後即刪除）") % {"name": scratch}
    admin = _pg_wrapper()
    admin.ensure_connection()
    try:
        with admin.cursor() as cursor:
            try:
                cursor.execute(f"CREATE DATABASE {_quote(scratch)} TEMPLATE template0")
            except Exception as exc:
                raise BackupError(
                    _("無法建立暫存資料庫（資料庫帳號需要 CREATEDB 權限）：%(error)s")
                    % {"error": exc}
                ) from exc
        try:
            try:
                _run(
                    [
                        "pg_restore",
                        "--no-owner",
                        "--no-privileges",
                        "--exit-on-error",
                        "--single-transaction",
                        *_pg_args(scratch),
                        str(opened.database),
                    ],
                    what=_("還原至暫存資料庫（pg_restore）"),
                )
            except BackupError as exc:
                return DatabaseCheck(False, False, restored_to, [str(exc)])
            probe = _pg_wrapper(scratch)
            probe.ensure_connection()
            try:
                with probe.cursor() as cursor:
                    counts = _pg_counts(cursor)
            finally:
                probe.close()
        finally:
            with admin.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS {_quote(scratch)} WITH (FORCE)")
    finally:
        admin.close()
    problems = _compare_counts(opened.manifest["database"]["tables"], counts)
    return DatabaseCheck(True, not problems, restored_to, problems)


def _check_database(opened: Opened) -> DatabaseCheck:
    if opened.manifest["database"]["vendor"] == "sqlite":
        return _check_sqlite(opened)
    return _check_postgresql(opened)


def migration_state(manifest: dict) -> tuple[list[str], bool]:
    """(migrations in the archive this code does not know, whether the code has
    migrations the archive lacks — ``isms migrate`` after restoring)."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    known = set(loader.disk_migrations)
    for key, migration in loader.replacements.items():
        known.add(key)
        known.update(migration.replaces)
    apps = {app for app, _name in known}
    applied = {
        (app, name) for app, names in (manifest.get("migrations") or {}).items() for name in names
    }
    unknown = sorted(f"{a}.{n}" for a, n in applied if a in apps and (a, n) not in known)
    pending = False
    for key in loader.graph.nodes:
        if key in applied:
            continue
        replaced = loader.replacements.get(key)
        if replaced is not None and all(tuple(r) in applied for r in replaced.replaces):
            continue
        pending = True
        break
    return unknown, pending


# Verify: a restore test (2.4.2) ----------------------------------------------------------------
@dataclass
class VerifyResult:
    passed: bool
    manifest: dict | None
    sha256: str
    problems: list
    test: RestoreTest | None
    message: str = ""


def _work_dir():
    base = Path(settings.DATA_DIR)
    base.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(dir=base, prefix=".isms-restore-")


def _archive_sha(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        while data := f.read(CHUNK):
            sha.update(data)
    return sha.hexdigest()


def verify(archive, *, passphrase: str | None = None, user=None) -> VerifyResult:
    """Restore into a scratch database and check everything; record a restore test.

    A wrong passphrase or a file that is no archive of ours raises ArchiveError and
    records nothing; any other finding is recorded as a failed test and returned.
    """
    path = Path(archive).expanduser().resolve()
    plan = product_plan(user=user, destination=str(path.parent))
    with _work_dir() as work:
        try:
            opened = _read_archive(path, passphrase, Path(work), None)
        except ArchiveError as exc:
            if not exc.recordable:
                raise
            sha = _archive_sha(path)
            test = _record_test(
                plan,
                user,
                sha=sha,
                manifest=None,
                usable=False,
                complete=False,
                checksum=RestoreTest.Checksum.MISMATCHED,
                restored_to=_("未還原：封存檔檢查未通過"),
                note="\n".join(
                    [
                        _("封存檔 %(path)s（SHA-256 %(sha)s）檢查未通過：")
                        % {"path": path, "sha": sha},
                        *(message for _member, message in exc.problems),
                    ]
                ),
            )
            return VerifyResult(False, None, sha, exc.problems, test, str(exc))
        check = _check_database(opened)
    manifest = opened.manifest
    unknown, _pending = migration_state(manifest)
    notes = [
        _("封存檔 %(path)s（SHA-256 %(sha)s，建立於 %(when)s）：%(what)s。")
        % {
            "path": path,
            "sha": opened.sha256,
            "when": _format_created(manifest),
            "what": describe(manifest),
        },
        _("%(n)d 個檔案的 SHA-256 檢查碼與清單相符。") % {"n": opened.members - 1},
    ]
    if check.usable and check.complete:
        notes.append(
            _("各資料表的筆數與清單相符（%(n)d 個資料表）。")
            % {"n": len(manifest["database"]["tables"])}
        )
    notes += check.problems
    if unknown:
        notes.append(
            _("此封存檔來自較新版本的平台（本版未知的 migration：%(names)s）。")
            % {"names": ", ".join(unknown)}
        )
    test = _record_test(
        plan,
        user,
        sha=opened.sha256,
        manifest=manifest,
        usable=check.usable,
        complete=check.complete,
        checksum=RestoreTest.Checksum.MATCHED,
        restored_to=check.restored_to,
        note="\n".join(notes),
    )
    passed = check.usable and check.complete
    message = "" if passed else "\n".join(check.problems)
    return VerifyResult(passed, manifest, opened.sha256, check.problems, test, message)


def _format_created(manifest: dict) -> str:
    try:
        return format_roc_datetime(dt.datetime.fromisoformat(manifest["created_at"]))
    except (KeyError, TypeError, ValueError):
        return "?"


def _record_test(plan, user, *, sha, manifest, usable, complete, checksum, restored_to, note):
    if plan.voided_at is not None:
        return None
    run = (
        BackupRun.objects.filter(plan=plan, checksum=sha, status=BackupRun.Status.SUCCEEDED)
        .order_by("-started_at", "-pk")
        .first()
    )
    if manifest is not None:
        restored_what = _("本平台的%(what)s") % {"what": describe(manifest)}
    else:
        restored_what = _("本平台的備份封存檔")
    test = RestoreTest(
        plan=plan,
        run=run,
        tested_on=timezone.localdate(),
        restored_what=restored_what[:300],
        restored_to=restored_to[:300],
        usable=usable,
        complete=complete,
        checksum=checksum,
        tester=user or plan.responsible,
        note=note,
    )
    errors = backups.test_errors(test)
    if "run" in errors or "tested_on" in errors:
        # A run recorded with a clock ahead of this one: keep the test, not the link.
        test.run = None
        errors = backups.test_errors(test)
    if errors:
        raise BackupError("".join(str(message) for message in errors.values()))
    with transaction.atomic(), trail.acting_as(user, label=LABEL_RESTORE):
        test.save()
    backups._refresh(backups.RESTORE_DUTY)
    return test


# Restore for real ------------------------------------------------------------------------------
@dataclass
class RestoreResult:
    manifest: dict
    sha256: str
    migrate_needed: bool
    restored: bool


def restore(archive, *, passphrase: str | None = None, user=None, confirm=None) -> RestoreResult:
    """Replace the database and the uploaded files with the archive's, only after every
    check of ``verify`` passed and ``confirm(summary)`` returned True. Raises BackupError
    (nothing changed) otherwise."""
    path = Path(archive).expanduser().resolve()
    kind = vendor()
    media = media_root()
    media.parent.mkdir(parents=True, exist_ok=True)
    username = user.get_username() if user is not None else None
    with _work_dir() as work:
        staging = Path(tempfile.mkdtemp(dir=media.parent, prefix=f".{media.name}.restore-"))
        try:
            opened = _read_archive(path, passphrase, Path(work), staging)
            manifest = opened.manifest
            archived = manifest["database"]["vendor"]
            if archived != kind:
                raise BackupError(
                    _(
                        "此封存檔的資料庫為 %(archived)s，目前設定的資料庫為 %(current)s，"
                        "不能直接還原。"
                    )
                    % {"archived": VENDOR_NAMES[archived], "current": VENDOR_NAMES[kind]}
                )
            unknown, pending = migration_state(manifest)
            if unknown:
                raise BackupError(
                    _(
                        "此封存檔來自較新版本的平台（本版未知的 migration：%(names)s）："
                        "請先升級平台再還原。"
                    )
                    % {"names": ", ".join(unknown)}
                )
            check = _check_database(opened)
            if not (check.usable and check.complete):
                raise ArchiveError("\n".join(check.problems), manifest["database"]["file"])
            summary = _("封存檔建立於 %(when)s：%(what)s。") % {
                "when": _format_created(manifest),
                "what": describe(manifest),
            }
            run = (
                BackupRun.objects.filter(
                    plan__is_product=True,
                    checksum=opened.sha256,
                    status=BackupRun.Status.SUCCEEDED,
                )
                .order_by("-started_at")
                .first()
            )
            if run is not None:
                summary += _("與 %(when)s 的備份紀錄 #%(pk)s 檢查碼相符。") % {
                    "when": format_roc_datetime(run.started_at),
                    "pk": run.pk,
                }
            else:
                summary += _(
                    "本平台的備份紀錄中沒有檢查碼相符的備份（封存檔來自其他主機，或已被修改）。"
                )
            if confirm is None or not confirm(summary):
                raise BackupError(_("已取消還原，未變更任何資料。"))
            if kind == "sqlite":
                _replace_sqlite(opened.database)
            else:
                _replace_postgresql(opened.database)
            try:
                _swap_media(staging, media)
            except OSError as exc:
                kept, staging = staging, None
                raise PartlyRestored(
                    _(
                        "資料庫已還原，但上傳檔案未能換上（%(error)s）：還原的檔案保留在 "
                        "%(kept)s，請手動移至 %(media)s。"
                    )
                    % {"error": exc, "kept": kept, "media": media}
                ) from exc
        finally:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
    _after_restore(path, opened, username)
    return RestoreResult(manifest, opened.sha256, pending, True)


def _replace_sqlite(source: Path) -> None:
    connection.ensure_connection()
    live = connection.connection
    copy = sqlite3.connect(source)
    try:
        page = live.execute("PRAGMA page_size").fetchone()[0]
        if copy.execute("PRAGMA page_size").fetchone()[0] != page:
            # A WAL database only takes a copy of its own page size.
            copy.execute(f"PRAGMA page_size={int(page)}")
            copy.execute("VACUUM")
        copy.backup(live)
    except sqlite3.Error as exc:
        raise BackupError(
            _("無法寫入資料庫（%(error)s）：請先停止網站與 worker 再還原；資料庫未變更。")
            % {"error": exc}
        ) from exc
    finally:
        copy.close()


def _replace_postgresql(dump: Path) -> None:
    """One transaction in psql: drop every table of the live database, then run the
    dump's SQL; COMMIT is sent only when pg_restore produced all of it."""
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relkind, n.nspname, c.relname FROM pg_catalog.pg_class c "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') "
            "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND n.nspname NOT LIKE 'pg\\_%' "
            "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = "
            "'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('e', 'a', 'i'))"
        )
        objects = cursor.fetchall()
    connection.close()
    kinds = {
        "v": "VIEW",
        "m": "MATERIALIZED VIEW",
        "f": "FOREIGN TABLE",
        "r": "TABLE",
        "p": "TABLE",
        "S": "SEQUENCE",
    }
    statements = ["BEGIN;"]
    for kind_code in ("v", "m", "f", "r", "p", "S"):
        names = [f"{_quote(s)}.{_quote(n)}" for k, s, n in objects if k == kind_code]
        if names:
            statements.append(f"DROP {kinds[kind_code]} IF EXISTS {', '.join(names)} CASCADE;")
    name = connection.settings_dict["NAME"]
    env = _pg_env()
    with tempfile.TemporaryFile() as restore_err, tempfile.TemporaryFile() as psql_err:
        try:
            psql = subprocess.Popen(
                ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", *_pg_args(name)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=psql_err,
                env=env,
            )
        except FileNotFoundError:
            raise BackupError(
                _("找不到 psql：請安裝 PostgreSQL 用戶端工具（postgresql-client）；資料庫未變更。")
            ) from None
        producer = subprocess.Popen(
            ["pg_restore", "--no-owner", "--no-privileges", "-f", "-", str(dump)],
            stdout=subprocess.PIPE,
            stderr=restore_err,
            env=env,
        )
        complete = False
        try:
            psql.stdin.write(("\n".join(statements) + "\n").encode())
            while data := producer.stdout.read(CHUNK):
                psql.stdin.write(data)
            complete = producer.wait() == 0
            if complete:
                psql.stdin.write(b"\nCOMMIT;\n")
        except BrokenPipeError:
            complete = False
        finally:
            if producer.poll() is None:
                producer.kill()
            producer.wait()
            with contextlib.suppress(BrokenPipeError):
                psql.stdin.close()
            code = psql.wait()
        if not complete or code != 0:
            psql_err.seek(0)
            restore_err.seek(0)
            detail = (psql_err.read() + restore_err.read()).decode("utf-8", "replace")
            raise BackupError(
                _("資料庫還原失敗，交易已回復，資料庫未變更：%(detail)s")
                % {"detail": detail.strip()[-2000:]}
            )
    connection.close()


def _swap_media(staging: Path, media: Path) -> None:
    """Put the restored files in place with renames (the old ones removed after)."""
    if not media.exists():
        os.rename(staging, media)
        staging.mkdir()  # for the caller's clean-up
        return
    os.chmod(staging, stat.S_IMODE(media.stat().st_mode))
    old = media.with_name(f".{media.name}.replaced-{secrets.token_hex(4)}")
    try:
        os.rename(media, old)
    except OSError:
        # A mount point cannot be renamed: empty it and move the restored files in.
        for child in list(media.iterdir()):
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        for child in list(staging.iterdir()):
            shutil.move(str(child), str(media / child.name))
        return
    os.rename(staging, media)
    staging.mkdir()
    shutil.rmtree(old, ignore_errors=True)


def _after_restore(path: Path, opened: Opened, username: str | None) -> None:
    """Check the live database against the manifest and note the restore in the trail."""
    from django.contrib.contenttypes.models import ContentType

    from isms.core.models import User

    ContentType.objects.clear_cache()
    cache.clear()
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        counts = _sqlite_counts(connection.connection)
    else:
        with connection.cursor() as cursor:
            counts = _pg_counts(cursor)
    problems = _compare_counts(opened.manifest["database"]["tables"], counts)
    user = User.objects.filter(username=username).first() if username else None
    plan = BackupPlan.objects.filter(is_product=True).first()
    message = _("資料庫與上傳檔案已由封存檔 %(name)s（SHA-256 %(sha)s，建立於 %(when)s）還原。") % {
        "name": path.name,
        "sha": opened.sha256,
        "when": _format_created(opened.manifest),
    }
    with trail.acting_as(user, label=LABEL_RESTORE):
        trail.record(
            trail.Action.UPDATE,
            model_label="operations.backupplan" if plan else "",
            object_id=str(plan.pk) if plan else "",
            object_repr=str(plan) if plan else path.name,
            changes={"restored_from": [None, path.name], "sha256": [None, opened.sha256]},
            message=message,
        )
    if problems:
        raise PartlyRestored(
            _("已還原，但還原後的資料庫與清單不符：%(problems)s") % {"problems": "".join(problems)}
        )
