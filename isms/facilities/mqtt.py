"""Readings over MQTT (3.2): the subscriber behind ``isms mqtt-ingest``.

The broker's network thread (paho) only puts each message in a queue; the thread that
calls ``Ingester.run`` decodes the messages, buffers them and stores them with one
``readings.ingest`` call per flush (one transaction, one trail entry under the label
``mqtt-ingest:<client id>``). So the database is only ever used from one thread.

1. **A message** is UTF-8 JSON: an object (one reading) or a list (a batch), items
   ``{sensor, measured_at, temperature_c, humidity_pct}``. The topic's last level names
   the sensor when an item has no ``sensor`` (``isms/environment/srv-room-1``).
2. **A malformed message** (empty, over 1 MB, not UTF-8, not JSON, not an object or a
   list, an empty list, more than ``ISMS_ENV_BATCH_MAX`` items) is refused as a whole
   (``readings.reject_payload``) and counted on the topic's sensor when it names a known
   one; items of a good list are checked one by one by the ingest. A message whose
   handling fails unexpectedly is logged and refused; the loop goes on.
3. **Nothing is lost quietly**: the subscription is QoS 1 in a persistent session (MQTT 5,
   ``clean_start`` off, a session expiry), and a message is acknowledged to the broker
   only after its flush is committed. Readings published while the ingester is away, or
   received but not yet stored when it dies, are delivered again (a reading stored twice
   is a duplicate, not a second reading).
4. **The broker goes away**: paho reconnects (1 s, doubling up to 30 s) and every
   (re)connection subscribes again.
5. **The database goes away**: the flush is retried (1 s, doubling up to 30 s) with the
   messages kept; after ``max_failures`` failed flushes the buffer is released: the QoS 1
   messages are handed back to the broker (the session is restarted, the broker delivers
   them again), QoS 0 ones are lost and counted as dropped.
6. ``stop()`` (SIGTERM, SIGINT) ends ``run`` after a last flush; ``close`` disconnects.
"""

import json
import logging
import os
import queue
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from django.conf import settings
from django.db import (
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    transaction,
)
from django.utils.translation import gettext as _
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from isms.audit import trail

from . import readings
from .models import Reading

log = logging.getLogger("isms.facilities.mqtt")

SOURCE = Reading.Source.MQTT
DB_ERRORS = (OperationalError, InterfaceError)
MAX_PAYLOAD = 1024 * 1024  # bytes
DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
# Waits after a failed flush (the database away): 1 s, doubling up to 30 s.
FIRST_DB_PAUSE = 1.0
MAX_DB_PAUSE = 30.0
# Messages held in memory at most (only QoS 0 messages can pile up beyond the broker's
# window of unacknowledged ones, ``flush_size``): the rest are dropped and counted.
BUFFER_FACTOR = 10
MIN_BUFFER = 5000


class ConfigError(ValueError):
    """A setting or option that cannot work (the command reports it and exits 1)."""


@dataclass
class Config:
    host: str = "127.0.0.1"
    port: int = 1883
    tls: bool = False
    ca_file: str = ""
    topics: tuple = ("isms/environment/#",)
    username: str = ""
    password: str = ""
    client_id: str = ""
    qos: int = 1
    flush_seconds: float = 2.0
    flush_size: int = 500
    keepalive: int = 60
    # How long the broker keeps the session (subscription and queued messages) while the
    # ingester is away.
    session_expiry: int = 86400
    health_minutes: float = 15.0
    max_failures: int = 10
    reconnect_min: int = 1
    reconnect_max: int = 30

    def __post_init__(self):
        if not self.client_id:
            self.client_id = default_client_id()
        if self.qos not in (0, 1):
            raise ConfigError("--qos must be 0 or 1")
        if not self.topics or not all(t.strip() for t in self.topics):
            raise ConfigError("at least one topic is needed")
        if self.flush_seconds <= 0:
            raise ConfigError("--flush-seconds must be more than 0")
        self.flush_size = min(max(int(self.flush_size), 1), readings.batch_max(), 65535)
        if self.password and not self.username:
            raise ConfigError("a password needs a user name (ISMS_MQTT_USERNAME / --username)")

    @property
    def broker(self) -> str:
        """host:port for the log: never the credentials."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    @property
    def label(self) -> str:
        return f"mqtt-ingest:{self.client_id}"


def default_client_id() -> str:
    """Stable across restarts (the broker keeps the session by client id)."""
    return f"isms-ingest-{socket.gethostname()}"[:64]


def parse_url(url: str) -> dict:
    """``mqtt://host[:port]`` or ``mqtts://host[:port]`` (TLS) → host, port, tls and the
    user name and password when the URL carries them."""
    parts = urlsplit((url or "").strip())
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ConfigError("the broker URL must look like mqtt://host:1883 or mqtts://host:8883")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError as exc:
        raise ConfigError("the broker URL has an invalid port") from exc
    return {
        "host": parts.hostname,
        "port": port,
        "tls": parts.scheme == "mqtts",
        "username": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
    }


def config_from_settings(**options) -> Config:
    """A Config from the command's options, falling back to the ISMS_MQTT_* settings."""
    url = parse_url(options.pop("url", None) or settings.ISMS_MQTT_URL)
    topics = options.pop("topics", None) or [
        t.strip() for t in settings.ISMS_MQTT_TOPIC.split(",") if t.strip()
    ]
    username = options.pop("username", None) or url["username"] or settings.ISMS_MQTT_USERNAME
    password = options.pop("password", None) or url["password"] or settings.ISMS_MQTT_PASSWORD
    ca_file = (
        options.pop("ca_file", None)
        or getattr(settings, "ISMS_MQTT_CA_FILE", "")
        or os.environ.get("ISMS_MQTT_CA_FILE", "")
    )
    values = {k: v for k, v in options.items() if v is not None}
    return Config(
        host=url["host"],
        port=url["port"],
        tls=url["tls"],
        ca_file=ca_file or "",
        topics=tuple(topics),
        username=username or "",
        password=password or "",
        **values,
    )


# Decoding a message ------------------------------------------------------------------------------
class PayloadError(Exception):
    """A message refused as a whole: ``reason`` in zh-TW."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def topic_code(topic: str) -> str:
    """The sensor code a topic names: its last level, when it looks like a code."""
    last = (topic or "").rsplit("/", 1)[-1]
    return last if readings.CODE_RE.match(last) else ""


def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return _("布林值")
    if isinstance(value, int | float):
        return _("數字")
    return _("字串")


def decode(payload: bytes, topic: str = "") -> list:
    """The items of a message (a list of decoded JSON values), or ``PayloadError``.

    An item without ``sensor`` gets the code the topic names.
    """
    if not payload or not payload.strip():
        raise PayloadError(_("訊息是空的，沒有任何讀數。"))
    if len(payload) > MAX_PAYLOAD:
        raise PayloadError(
            _("訊息超過 1 MB 上限（%(size)s 位元組）。") % {"size": f"{len(payload):,}"}
        )
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(_("訊息不是 UTF-8 編碼的文字。")) from exc
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PayloadError(
            _("訊息不是有效的 JSON（第 %(line)d 行第 %(column)d 字附近有誤）。")
            % {"line": exc.lineno, "column": exc.colno}
        ) from exc
    if isinstance(value, dict):
        items = [value]
    elif isinstance(value, list):
        if not value:
            raise PayloadError(_("讀數陣列是空的。"))
        limit = readings.batch_max()
        if len(value) > limit:
            raise PayloadError(
                _("一則訊息最多 %(limit)d 筆讀數，收到 %(n)d 筆。")
                % {"limit": limit, "n": len(value)}
            )
        items = value
    else:
        raise PayloadError(
            _("訊息須為 JSON 物件（一筆讀數）或陣列（多筆讀數），收到的是%(kind)s。")
            % {"kind": _kind(value)}
        )
    code = topic_code(topic)
    if code:
        items = [
            {**item, "sensor": code}
            if isinstance(item, dict) and item.get("sensor") in (None, "")
            else item
            for item in items
        ]
    return items


# The subscriber ----------------------------------------------------------------------------------
@dataclass
class Entry:
    """A message taken from the broker, decoded (``items``) or refused (``reason``)."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int
    items: list | None = None
    reason: str = ""


@dataclass
class Stats:
    received: int = 0  # messages from the broker
    accepted: int = 0  # readings stored
    duplicates: int = 0  # readings already stored
    rejected: int = 0  # readings and messages refused
    dropped: int = 0  # messages given up (QoS 0 lost; QoS 1 handed back to the broker)
    flushes: int = 0
    db_failures: int = 0
    connects: int = 0
    disconnects: int = 0

    def line(self) -> str:
        return (
            f"{self.received} messages received, {self.accepted} readings accepted, "
            f"{self.duplicates} duplicates, {self.rejected} rejected, {self.dropped} dropped, "
            f"{self.flushes} flushes, {self.db_failures} database failures, "
            f"{self.connects} connections, {self.disconnects} disconnections"
        )


class Ingester:
    """Subscribe, buffer and store. ``start`` connects (in paho's thread, retrying),
    ``run`` processes in the calling thread until told to stop, ``close`` disconnects."""

    def __init__(self, config: Config):
        self.config = config
        self.stats = Stats()
        self.messages: queue.Queue = queue.Queue()
        self.buffer: list[Entry] = []
        self.buffer_since = 0.0
        self.stopping = threading.Event()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        # Bumped at every disconnection: a message is acknowledged only on the connection
        # it came by (the broker delivers the others again after reconnecting).
        self.generation = 0
        self.failures = 0
        self.retry_at = 0.0
        self.db_pause = FIRST_DB_PAUSE
        self.max_db_pause = MAX_DB_PAUSE
        self._closing = False
        self._overflow_logged = False
        self.client = self._make_client()

    # The connection -----------------------------------------------------------------------------
    def _make_client(self) -> paho.Client:
        c = self.config
        client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=c.client_id,
            protocol=paho.MQTTv5,
            manual_ack=True,
        )
        client.enable_logger(logging.getLogger("isms.facilities.mqtt.paho"))
        client.suppress_exceptions = True  # a failing callback must not end the network thread
        client.reconnect_delay_set(min_delay=c.reconnect_min, max_delay=c.reconnect_max)
        if c.username:
            client.username_pw_set(c.username, c.password or None)
        if c.tls:
            client.tls_set(ca_certs=c.ca_file or None, cert_reqs=ssl.CERT_REQUIRED)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def _connect_properties(self) -> Properties:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = max(int(self.config.session_expiry), 0)
        # The broker sends at most this many unacknowledged QoS 1 messages: one flush.
        props.ReceiveMaximum = self.config.flush_size
        return props

    def start(self) -> None:
        """Connect in the background; paho retries until the broker answers."""
        c = self.config
        self._closing = False
        log.info(
            "mqtt-ingest %s: connecting to %s as %s, topics %s (QoS %s)",
            c.client_id,
            c.broker,
            c.username or "anonymous",
            ", ".join(c.topics),
            c.qos,
        )
        self.client.connect_async(
            c.host,
            c.port,
            keepalive=c.keepalive,
            clean_start=False,
            properties=self._connect_properties(),
        )
        self.client.loop_start()

    def close(self) -> None:
        """Disconnect (the broker keeps the session) and stop paho's thread. Messages still
        buffered (the database away) are given up: the broker keeps the QoS 1 ones."""
        if self.buffer:
            self._release("closing with the database unavailable")
        self._closing = True
        try:
            self.client.disconnect()
        except Exception:  # already gone
            log.debug("disconnect failed", exc_info=True)
        self.client.loop_stop()
        self.connected.clear()
        self.subscribed.clear()

    def restart_session(self) -> None:
        """Disconnect and connect again: the broker delivers the unacknowledged again."""
        self.close()
        self.start()

    def wait_subscribed(self, timeout: float) -> bool:
        """Wait for the subscription (False after ``timeout`` s or when told to stop)."""
        deadline = time.monotonic() + timeout
        while not self.stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self.subscribed.wait(min(left, 0.2)):
                return True
        return False

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        c = self.config
        if reason_code.is_failure:
            log.error(
                "mqtt-ingest %s: %s refused the connection: %s", c.client_id, c.broker, reason_code
            )
            return
        self.stats.connects += 1
        self.connected.set()
        log.info(
            "mqtt-ingest %s: connected to %s (session kept by the broker: %s)",
            c.client_id,
            c.broker,
            "yes" if flags.session_present else "no",
        )
        # Every (re)connection subscribes again: a broker restarted without persistence
        # has forgotten the session.
        client.subscribe([(t, SubscribeOptions(qos=c.qos)) for t in c.topics])

    def _on_connect_fail(self, client, userdata):
        log.warning(
            "mqtt-ingest %s: cannot connect to %s (address, port, firewall or TLS certificate); "
            "trying again (up to every %s s)",
            self.config.client_id,
            self.config.broker,
            self.config.reconnect_max,
        )

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        refused = [str(rc) for rc in reason_codes if rc.is_failure]
        if refused:
            log.error(
                "mqtt-ingest %s: subscription refused by the broker: %s (check its ACL)",
                self.config.client_id,
                ", ".join(refused),
            )
            return
        self.subscribed.set()
        log.info(
            "mqtt-ingest %s: subscribed to %s", self.config.client_id, ", ".join(self.config.topics)
        )

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.generation += 1
        self.connected.clear()
        self.subscribed.clear()
        if self._closing:
            log.info("mqtt-ingest %s: disconnected", self.config.client_id)
            return
        self.stats.disconnects += 1
        log.warning(
            "mqtt-ingest %s: connection to %s lost (%s); reconnecting (%s–%s s)",
            self.config.client_id,
            self.config.broker,
            reason_code,
            self.config.reconnect_min,
            self.config.reconnect_max,
        )

    def _on_message(self, client, userdata, message):
        # paho's thread: no database here, only the queue.
        self.stats.received += 1
        self.messages.put(
            Entry(
                topic=message.topic,
                payload=bytes(message.payload or b""),
                mid=message.mid,
                qos=message.qos,
                generation=self.generation,
            )
        )

    # The loop -----------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask ``run`` to flush and return (safe from a signal handler or another thread)."""
        self.stopping.set()

    def run(
        self, *, max_messages: int = 0, timeout: float | None = None, idle: float | None = None
    ):
        """Take, buffer and flush messages until ``stop()``; or until ``max_messages`` more
        are taken, ``timeout`` seconds have passed, or (``idle``) the subscription has been
        quiet that long. Flushes what is buffered before returning."""
        c = self.config
        started = time.monotonic()
        deadline = started + timeout if timeout else None
        last_message = started
        taken = 0
        health_every = max(c.health_minutes, 0) * 60
        next_health = started + health_every if health_every else None
        while not self.stopping.is_set():
            now = time.monotonic()
            wait = 0.5
            if self.buffer:
                wait = min(wait, max(self.buffer_since + c.flush_seconds - now, 0.01))
            try:
                entry = self.messages.get(timeout=wait)
            except queue.Empty:
                entry = None
            while entry is not None:
                self.take(entry)
                taken += 1
                last_message = time.monotonic()
                if max_messages and taken >= max_messages:
                    break
                try:
                    entry = self.messages.get_nowait()
                except queue.Empty:
                    entry = None
            now = time.monotonic()
            if (
                self.buffer
                and now >= self.retry_at
                and (
                    self._buffered_readings() >= c.flush_size
                    or len(self.buffer) >= c.flush_size
                    or now - self.buffer_since >= c.flush_seconds
                )
            ):
                self.flush()
            if next_health is not None and now >= next_health:
                self.log_health()
                next_health = now + health_every
            if max_messages and taken >= max_messages:
                break
            if deadline is not None and now >= deadline:
                break
            if (
                idle is not None
                and self.subscribed.is_set()
                and not self.buffer
                and self.messages.empty()
                and now - last_message >= idle
            ):
                break
        self.flush()
        return self.stats

    def _buffered_readings(self) -> int:
        return sum(len(e.items) for e in self.buffer if e.items)

    def take(self, entry: Entry) -> None:
        """Decode a message into the buffer; nothing here may end the loop."""
        cap = max(self.config.flush_size * BUFFER_FACTOR, MIN_BUFFER)
        if len(self.buffer) >= cap:
            # Only QoS 0 can pile up so (the database away for long): not acknowledged, a
            # QoS 1 message comes back from the broker after the next reconnection.
            self.stats.dropped += 1
            if not self._overflow_logged:
                self._overflow_logged = True
                log.error(
                    "mqtt-ingest %s: %s messages waiting for the database; dropping new ones",
                    self.config.client_id,
                    len(self.buffer),
                )
            return
        try:
            entry.items = decode(entry.payload, entry.topic)
        except PayloadError as error:
            entry.reason = error.reason
        except Exception as exc:
            log.exception(
                "mqtt-ingest %s: a message on %s could not be handled",
                self.config.client_id,
                entry.topic,
            )
            entry.reason = unexpected(exc)
        if not self.buffer:
            self.buffer_since = time.monotonic()
        self.buffer.append(entry)

    def flush(self) -> bool:
        """Store the buffer in one transaction; acknowledge its messages once committed.

        Returns whether the buffer is empty afterwards. A database error keeps the buffer
        for a later try; after ``max_failures`` the buffer is released (see the module).
        """
        if not self.buffer:
            return True
        batch = list(self.buffer)
        if not connection.in_atomic_block:
            close_old_connections()  # honours CONN_MAX_AGE and drops a broken connection
        try:
            with trail.acting_as(None, label=self.config.label):
                self._store(batch)
            self._done(batch)
        except DB_ERRORS as exc:
            self._db_failed(exc)
            return False
        except Exception:
            # A fault in the ingest itself: find the message that causes it, one by one.
            log.exception(
                "mqtt-ingest %s: storing %s messages failed; storing them one by one",
                self.config.client_id,
                len(batch),
            )
            try:
                self._store_one_by_one(batch)
            except DB_ERRORS as exc:
                self._db_failed(exc)
                return False
        self.failures = 0
        self.db_pause = FIRST_DB_PAUSE
        self.retry_at = 0.0
        self._overflow_logged = False
        return True

    def _store(self, batch: list[Entry]) -> None:
        """One transaction: the refused messages, then the readings of the others."""
        bad = [e for e in batch if e.items is None]
        items = [item for e in batch if e.items is not None for item in e.items]
        with transaction.atomic():
            if bad:
                sensors = readings.active_sensors(topic_code(e.topic) for e in bad)
                for e in bad:
                    readings.reject_payload(
                        e.payload, e.reason, source=SOURCE, sensor=sensors.get(topic_code(e.topic))
                    )
            result = readings.ingest(items, source=SOURCE) if items else None
        self._count(result, len(bad))

    def _store_one_by_one(self, batch: list[Entry]) -> None:
        """Each message on its own; one that fails unexpectedly is refused. Messages done
        leave the buffer at once (a database error then keeps only the rest)."""
        for entry in batch:
            try:
                with trail.acting_as(None, label=self.config.label):
                    self._store([entry])
            except DB_ERRORS:
                raise
            except Exception as exc:
                log.exception(
                    "mqtt-ingest %s: a message on %s could not be stored; refused",
                    self.config.client_id,
                    entry.topic,
                )
                code = topic_code(entry.topic)
                with transaction.atomic():
                    readings.reject_payload(
                        entry.payload,
                        unexpected(exc),
                        source=SOURCE,
                        sensor=readings.active_sensors([code]).get(code),
                    )
                self.stats.rejected += 1
            self._done([entry])

    def _count(self, result, refused_messages: int) -> None:
        self.stats.flushes += 1
        self.stats.rejected += refused_messages
        if result is not None:
            self.stats.accepted += result.accepted
            self.stats.duplicates += result.duplicates
            self.stats.rejected += len(result.rejected)

    def _done(self, entries: list[Entry]) -> None:
        """Out of the buffer, and acknowledged when they came by this connection."""
        done = {id(e) for e in entries}
        self.buffer = [e for e in self.buffer if id(e) not in done]
        if self.buffer:
            self.buffer_since = time.monotonic()
        for e in entries:
            if e.qos and e.generation == self.generation:
                self.client.ack(e.mid, e.qos)

    def _db_failed(self, exc: Exception) -> None:
        self.failures += 1
        self.stats.db_failures += 1
        log.warning(
            "mqtt-ingest %s: database unavailable (%s messages kept, try %s of %s): %s",
            self.config.client_id,
            len(self.buffer),
            self.failures,
            self.config.max_failures,
            exc,
        )
        self._reset_connection()
        if self.failures >= self.config.max_failures:
            self._release(f"{self.failures} failed flushes")
            self.restart_session()
            self.failures = 0
            self.db_pause = FIRST_DB_PAUSE
            self.retry_at = 0.0
            return
        self.retry_at = time.monotonic() + self.db_pause
        self.db_pause = min(self.db_pause * 2, self.max_db_pause)

    def _release(self, why: str) -> None:
        """Give up the buffer: QoS 1 messages were never acknowledged, so the broker
        delivers them again (after the session restarts); QoS 0 ones are lost."""
        kept = sum(1 for e in self.buffer if e.qos)
        lost = len(self.buffer) - kept
        self.stats.dropped += len(self.buffer)
        log.error(
            "mqtt-ingest %s: %s: %s messages not stored (%s handed back to the broker, "
            "%s lost: QoS 0)",
            self.config.client_id,
            why,
            len(self.buffer),
            kept,
            lost,
        )
        self.buffer = []

    def _reset_connection(self) -> None:
        try:
            if connection.in_atomic_block:
                return
            close_old_connections()
            connection.close()
        except Exception:  # the connection may be too broken even to close
            log.debug("closing the database connection failed", exc_info=True)

    def log_health(self) -> None:
        log.info(
            "mqtt-ingest %s: %s; %s; %s buffered",
            self.config.client_id,
            "connected" if self.connected.is_set() else "NOT connected",
            self.stats.line(),
            len(self.buffer),
        )


def unexpected(exc: Exception) -> str:
    return _("處理訊息時發生未預期的錯誤（%(error)s），已拒收。") % {"error": type(exc).__name__}
