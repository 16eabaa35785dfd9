"""`isms mqtt-ingest` against a real Mosquitto broker: the system one on 127.0.0.1:1883, and
a broker of the test's own (on a free port) for the broker going away.

Each test subscribes to a topic of its own (``isms-test/<uuid>/…``) with a client id of its
own, so parallel runs never see each other's messages. The broker's network thread only
queues messages; ``Ingester.run`` stores them in the test's thread (no second database
connection).
"""

import datetime as dt
import io
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid

import paho.mqtt.client as paho
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.management import CommandError, call_command
from django.db import OperationalError
from django.utils import timezone
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from isms.audit.models import AuditEntry
from isms.core.roles import SYSADMIN
from isms.facilities import mqtt, readings
from isms.facilities.models import Reading, Rejection, Room, Sensor

HOST = "127.0.0.1"
PORT = 1883
MOSQUITTO = shutil.which("mosquitto", path=os.environ.get("PATH", "") + ":/usr/sbin:/usr/bin")

pytestmark = pytest.mark.django_db


# Fixtures and helpers ----------------------------------------------------------------------------
@pytest.fixture
def root():
    return f"isms-test/{uuid.uuid4().hex}"


@pytest.fixture
def sensor(make_user):
    admin = make_user("admin1", SYSADMIN)
    room = Room.objects.create(name="主機機房", kind=Room.Kind.SERVER_ROOM, keeper=admin)
    return Sensor.objects.create(room=room, code="srv-1", name="機櫃前")


def moment(minutes_ago: float) -> str:
    return (timezone.now() - dt.timedelta(minutes=minutes_ago)).replace(microsecond=0).isoformat()


def reading(minutes_ago=1.0, t=22.0, h=60.0, code="srv-1", **extra):
    item = {"measured_at": moment(minutes_ago), "temperature_c": t, "humidity_pct": h, **extra}
    if code is not None:
        item["sensor"] = code
    return item


def publish(topic, payload, *, port=PORT, qos=1, ca_file=None):
    """Publish and wait for the broker's acknowledgement."""
    if not isinstance(payload, bytes | str):
        payload = json.dumps(payload)
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    if ca_file:
        client.tls_set(ca_certs=str(ca_file))
    client.connect(HOST, port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=qos).wait_for_publish(timeout=5)
    finally:
        client.disconnect()
        client.loop_stop()


def forget_session(client_id, port=PORT):
    """Remove a persistent session the test left at the broker."""
    client = paho.Client(
        paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5
    )
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 0
    try:
        client.connect(HOST, port, clean_start=True, properties=props)
        client.loop_start()
        client.disconnect()
        client.loop_stop()
    except OSError:
        pass


@pytest.fixture
def ingesters(root):
    """ingesters(**config) → a started Ingester subscribed to ``<root>/#``."""
    made = []
    client_ids = set()

    def make(*, port=PORT, subscribe=True, **config):
        config.setdefault("topics", (f"{root}/#",))
        config.setdefault("client_id", f"isms-test-{uuid.uuid4().hex[:12]}")
        config.setdefault("flush_seconds", 0.2)
        config.setdefault("health_minutes", 0)
        config.setdefault("session_expiry", 60)
        ingester = mqtt.Ingester(mqtt.Config(host=HOST, port=port, **config))
        ingester.db_pause = 0.05
        made.append(ingester)
        client_ids.add((config["client_id"], port))
        ingester.start()
        if subscribe:
            assert ingester.wait_subscribed(10), "no subscription from the broker"
        return ingester

    yield make
    for ingester in made:
        ingester.close()
    for client_id, port in client_ids:
        if port == PORT:
            forget_session(client_id, port)


def run(ingester, messages, timeout=10):
    stats = ingester.run(max_messages=messages, timeout=timeout)
    assert not ingester.buffer
    return stats


def batch_entries():
    return AuditEntry.objects.filter(model_label="facilities.reading")


# Readings in, refusals counted -------------------------------------------------------------------
class TestMessages:
    def test_one_reading_is_stored_with_source_mqtt_under_the_ingesters_label(
        self, sensor, root, ingesters
    ):
        ingester = ingesters(client_id=f"isms-test-{uuid.uuid4().hex[:8]}")
        publish(f"{root}/gateway", reading(t=21.5, h=55))
        stats = run(ingester, 1)
        stored = Reading.objects.get()
        assert (stored.sensor, stored.source) == (sensor, Reading.Source.MQTT)
        assert (stored.temperature_c, stored.humidity_pct) == (21.5, 55.0)
        sensor.refresh_from_db()
        assert sensor.accepted_count == 1 and sensor.last_reading_at == stored.measured_at
        entry = batch_entries().get()
        assert entry.actor_label == f"mqtt-ingest:{ingester.config.client_id}"
        assert entry.actor is None
        assert (stats.received, stats.accepted, stats.rejected) == (1, 1, 0)

    def test_a_list_is_stored_in_one_flush_with_one_audit_entry(self, sensor, root, ingesters):
        ingester = ingesters()
        publish(f"{root}/gateway", [reading(3), reading(2), reading(1)])
        stats = run(ingester, 1)
        assert Reading.objects.filter(source=Reading.Source.MQTT).count() == 3
        assert batch_entries().count() == 1
        assert "3" in batch_entries().get().message
        assert (stats.flushes, stats.accepted) == (1, 3)

    def test_messages_buffered_together_are_one_ingest_call(
        self, sensor, root, ingesters, monkeypatch
    ):
        calls = []
        real = readings.ingest

        def counting(items, **kwargs):
            calls.append(len(items))
            return real(items, **kwargs)

        monkeypatch.setattr(readings, "ingest", counting)
        ingester = ingesters(flush_seconds=30)
        for minutes in (5, 4, 3, 2):
            publish(f"{root}/gateway", reading(minutes))
        run(ingester, 4)  # taken together, flushed once at the end
        assert calls == [4]
        assert Reading.objects.count() == 4 and batch_entries().count() == 1

    def test_the_topics_last_level_names_the_sensor_when_the_payload_does_not(
        self, sensor, root, ingesters
    ):
        ingester = ingesters()
        publish(f"{root}/srv-1", reading(code=None))
        publish(f"{root}/srv-1", [reading(2, code=None), reading(3, code="")])
        run(ingester, 2)
        assert Reading.objects.filter(sensor=sensor).count() == 3

    def test_a_sensor_named_in_the_payload_wins_over_the_topic(self, sensor, root, ingesters):
        other = Sensor.objects.create(room=sensor.room, code="srv-2", name="機櫃後")
        ingester = ingesters()
        publish(f"{root}/srv-1", reading(code="srv-2"))
        run(ingester, 1)
        assert Reading.objects.get().sensor == other

    @pytest.mark.parametrize(
        "payload, reason",
        [
            (b"temperature=22", "不是有效的 JSON"),
            (b"42", "收到的是數字"),
            (b'"22.5"', "收到的是字串"),
            (b"null", "收到的是null"),
            (b"[]", "陣列是空的"),
            (b"", "訊息是空的"),
            (b"   ", "訊息是空的"),
            (b"\xff\xfe{}", "不是 UTF-8"),
            (b"[" + b" " * (mqtt.MAX_PAYLOAD + 1) + b"]", "超過 1 MB"),
            # Valid JSON nested too deep for the decoder: an unexpected error, refused.
            (b"[" * 200_000 + b"]" * 200_000, "未預期的錯誤（RecursionError）"),
        ],
    )
    def test_a_malformed_message_is_refused_counted_on_the_topics_sensor_and_the_loop_goes_on(
        self, sensor, root, ingesters, payload, reason
    ):
        ingester = ingesters()
        publish(f"{root}/srv-1", payload)
        publish(f"{root}/srv-1", reading())
        stats = run(ingester, 2)
        rejection = Rejection.objects.get()
        assert reason in rejection.reason
        assert (rejection.sensor, rejection.source) == (sensor, Reading.Source.MQTT)
        assert len(rejection.payload) <= readings.PAYLOAD_EXCERPT
        sensor.refresh_from_db()
        assert (sensor.rejected_count, sensor.accepted_count) == (1, 1)
        assert sensor.last_rejected_at is not None
        assert Reading.objects.count() == 1
        assert (stats.rejected, stats.accepted) == (1, 1)

    def test_a_malformed_message_on_a_topic_naming_no_known_sensor_is_still_kept(
        self, sensor, root, ingesters
    ):
        ingester = ingesters()
        publish(f"{root}/unknown-9", b"{oops")
        publish(f"{root}/bad level", b"{oops")
        run(ingester, 2)
        assert Rejection.objects.filter(sensor=None).count() == 2
        sensor.refresh_from_db()
        assert sensor.rejected_count == 0

    def test_impossible_and_unknown_items_are_refused_one_by_one(self, sensor, root, ingesters):
        ingester = ingesters()
        publish(
            f"{root}/gateway",
            [reading(3, h=120), reading(2, code="nobody"), reading(1), 42],
        )
        publish(f"{root}/gateway", reading(4))
        stats = run(ingester, 2)
        assert Reading.objects.count() == 2
        reasons = dict(Rejection.objects.values_list("sensor_code", "reason"))
        assert set(reasons) == {"srv-1", "nobody", ""}
        assert "120" in reasons["srv-1"] and "nobody" in reasons["nobody"]
        assert Rejection.objects.get(sensor_code="srv-1").sensor == sensor
        assert Rejection.objects.get(sensor_code="nobody").sensor is None
        sensor.refresh_from_db()
        assert (sensor.rejected_count, sensor.accepted_count) == (1, 2)
        assert (stats.accepted, stats.rejected) == (2, 3)

    def test_a_reading_sent_twice_is_a_duplicate(self, sensor, root, ingesters):
        ingester = ingesters()
        same = reading(2)
        publish(f"{root}/gateway", same)
        run(ingester, 1)
        publish(f"{root}/gateway", same)
        stats = run(ingester, 1)
        assert Reading.objects.count() == 1
        assert (stats.accepted, stats.duplicates, stats.rejected) == (1, 1, 0)


# Nothing lost: persistent session, acknowledgement after the flush, the database away ------------
class TestDelivery:
    def test_readings_published_while_the_ingester_is_away_arrive_after_it_returns(
        self, sensor, root, ingesters
    ):
        client_id = f"isms-test-{uuid.uuid4().hex[:12]}"
        first = ingesters(client_id=client_id)
        publish(f"{root}/gateway", reading(3))
        run(first, 1)
        first.close()
        publish(f"{root}/gateway", reading(2))
        publish(f"{root}/gateway", reading(1))
        second = ingesters(client_id=client_id)
        run(second, 2)
        assert Reading.objects.count() == 3

    def test_a_message_not_yet_stored_when_the_ingester_dies_is_delivered_again(
        self, sensor, root, ingesters
    ):
        client_id = f"isms-test-{uuid.uuid4().hex[:12]}"
        first = ingesters(client_id=client_id)
        publish(f"{root}/gateway", reading(1))
        deadline = time.monotonic() + 5
        while first.messages.empty() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert first.stats.received == 1
        first.close()  # received, never flushed: never acknowledged
        second = ingesters(client_id=client_id)
        run(second, 1)
        assert Reading.objects.count() == 1

    def test_stop_flushes_what_is_buffered(self, sensor, root, ingesters):
        ingester = ingesters(flush_seconds=600)
        for minutes in (3, 2, 1):
            publish(f"{root}/gateway", reading(minutes))

        def stop_when_received():
            deadline = time.monotonic() + 5
            while ingester.stats.received < 3 and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(0.3)  # taken into the buffer, not flushed (600 s)
            ingester.stop()

        threading.Thread(target=stop_when_received, daemon=True).start()
        started = time.monotonic()
        stats = ingester.run()
        assert time.monotonic() - started < 5
        assert Reading.objects.count() == 3 and batch_entries().count() == 1
        assert stats.flushes == 1

    def test_a_database_error_keeps_the_messages_and_the_flush_is_tried_again(
        self, sensor, root, ingesters, monkeypatch, caplog
    ):
        real = readings.ingest
        failures = {"left": 2}

        def flaky(items, **kwargs):
            if failures["left"]:
                failures["left"] -= 1
                raise OperationalError("database is locked")
            return real(items, **kwargs)

        monkeypatch.setattr(readings, "ingest", flaky)
        ingester = ingesters()
        publish(f"{root}/srv-1", b"not json")
        publish(f"{root}/gateway", [reading(2), reading(1)])
        ingester.run(max_messages=2, timeout=10)
        assert len(ingester.buffer) == 2  # the last flush of run failed too: kept
        stats = ingester.run(timeout=1)
        assert not ingester.buffer
        assert Reading.objects.count() == 2
        assert Rejection.objects.count() == 1  # refused once, not once per try
        sensor.refresh_from_db()
        assert sensor.rejected_count == 1
        assert stats.db_failures == 2 and stats.dropped == 0
        assert "database unavailable" in caplog.text

    def test_after_too_many_failures_the_broker_gets_the_messages_back(
        self, sensor, root, ingesters, monkeypatch, caplog
    ):
        real = readings.ingest
        down = threading.Event()
        down.set()

        def broken(items, **kwargs):
            if down.is_set():
                raise OperationalError("server closed the connection unexpectedly")
            return real(items, **kwargs)

        monkeypatch.setattr(readings, "ingest", broken)
        ingester = ingesters(max_failures=2)
        publish(f"{root}/gateway", reading(1))
        ingester.run(timeout=1.5)
        assert ingester.stats.dropped >= 1
        assert "2 failed flushes" in caplog.text  # released, the session restarted
        assert "handed back to the broker" in caplog.text
        assert Reading.objects.count() == 0
        down.clear()  # the database is back: the broker delivers the reading again
        ingester.run(timeout=1.5)
        assert Reading.objects.count() == 1
        assert not ingester.buffer

    def test_an_unexpected_error_storing_a_message_refuses_that_message_only(
        self, sensor, root, ingesters, monkeypatch
    ):
        real = readings.ingest

        def fragile(items, **kwargs):
            if any(isinstance(i, dict) and i.get("note") == "boom" for i in items):
                raise RuntimeError("a bug")
            return real(items, **kwargs)

        monkeypatch.setattr(readings, "ingest", fragile)
        ingester = ingesters(flush_seconds=30)
        publish(f"{root}/srv-1", reading(3))
        publish(f"{root}/srv-1", reading(2, note="boom"))
        publish(f"{root}/srv-1", reading(1))
        stats = run(ingester, 3)
        assert Reading.objects.count() == 2
        rejection = Rejection.objects.get()
        assert "RuntimeError" in rejection.reason and rejection.sensor == sensor
        assert (stats.accepted, stats.rejected) == (2, 1)
        # Taken again from the broker after a reconnection: nothing left unacknowledged.
        ingester.restart_session()
        assert ingester.wait_subscribed(10)
        assert ingester.run(timeout=0.5).received == 3


# The broker going away ---------------------------------------------------------------------------
class Broker:
    """A Mosquitto of the test's own on a free port (the system one is shared)."""

    def __init__(self, directory, tls=False):
        if MOSQUITTO is None:
            pytest.fail(
                "these tests need the mosquitto binary (apt-get install mosquitto); "
                "it is installed wherever the project's MQTT service runs"
            )
        with socket.socket() as s:
            s.bind((HOST, 0))
            self.port = s.getsockname()[1]
        lines = [
            f"listener {self.port} {HOST}",
            "allow_anonymous true",
            "persistence false",
            "log_dest none",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            # As root Mosquitto would read the certificate as user "mosquitto", who cannot
            # enter the test's private directory.
            lines.append("user root")
        self.ca_file = None
        if tls:
            self.ca_file, key_file = self_signed(directory)
            lines += [f"certfile {self.ca_file}", f"keyfile {key_file}"]
        self.conf = directory / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n")
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"mosquitto did not start: {self.process.stderr.read().decode()}")
            try:
                socket.create_connection((HOST, self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        pytest.fail("mosquitto did not listen within 10 s")

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def self_signed(directory):
    """A certificate for 127.0.0.1 that is its own CA, and its key (PEM files)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "broker.crt", directory / "broker.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path)
    b.start()
    yield b
    b.stop()


def test_the_ingester_reconnects_and_subscribes_again_after_the_broker_restarts(
    sensor, root, ingesters, broker, caplog
):
    caplog.set_level("INFO", logger="isms.facilities.mqtt")
    ingester = ingesters(port=broker.port)
    publish(f"{root}/gateway", reading(2), port=broker.port)
    run(ingester, 1)
    broker.stop()
    deadline = time.monotonic() + 10
    while ingester.connected.is_set() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not ingester.connected.is_set()
    ingester.run(timeout=0.3)  # the loop goes on without a broker
    broker.start()  # a new broker without the old session: the subscription must be made again
    assert ingester.wait_subscribed(15), "no resubscription after the broker came back"
    publish(f"{root}/gateway", reading(1), port=broker.port)
    run(ingester, 1)
    assert Reading.objects.count() == 2
    assert ingester.stats.connects == 2 and ingester.stats.disconnects == 1
    assert "connection to" in caplog.text and "lost" in caplog.text


def test_tls_to_a_broker_whose_certificate_the_ca_file_vouches_for(
    sensor, root, ingesters, tmp_path
):
    tls_broker = Broker(tmp_path, tls=True)
    tls_broker.start()
    try:
        ingester = ingesters(port=tls_broker.port, tls=True, ca_file=str(tls_broker.ca_file))
        publish(
            f"{root}/srv-1", reading(code=None), port=tls_broker.port, ca_file=tls_broker.ca_file
        )
        run(ingester, 1)
        ingester.close()
        # Without the CA the certificate is not trusted: no connection.
        untrusting = ingesters(port=tls_broker.port, tls=True, subscribe=False)
        assert not untrusting.wait_subscribed(1.5)
    finally:
        tls_broker.stop()
    assert Reading.objects.get().sensor == sensor


def test_a_health_line_is_logged_every_period(sensor, root, ingesters, caplog):
    caplog.set_level("INFO", logger="isms.facilities.mqtt")
    ingester = ingesters(health_minutes=0.005)  # 0.3 s
    publish(f"{root}/srv-1", reading(code=None))
    ingester.run(timeout=1)
    health = [r.getMessage() for r in caplog.records if "buffered" in r.getMessage()]
    assert len(health) >= 2
    assert "connected; 1 messages received, 1 readings accepted" in health[-1]


# Configuration and the command -------------------------------------------------------------------
class TestConfig:
    @pytest.mark.parametrize(
        "url, expected",
        [
            ("mqtt://127.0.0.1", ("127.0.0.1", 1883, False)),
            ("mqtt://broker.school.edu.tw:11883", ("broker.school.edu.tw", 11883, False)),
            ("mqtts://broker.school.edu.tw", ("broker.school.edu.tw", 8883, True)),
        ],
    )
    def test_urls(self, url, expected):
        parsed = mqtt.parse_url(url)
        assert (parsed["host"], parsed["port"], parsed["tls"]) == expected

    @pytest.mark.parametrize(
        "url", ["http://broker", "broker:1883", "mqtt://", "mqtt://host:99999", ""]
    )
    def test_bad_urls_are_refused(self, url):
        with pytest.raises(mqtt.ConfigError):
            mqtt.parse_url(url)

    def test_settings_give_the_defaults(self, settings):
        settings.ISMS_MQTT_URL = "mqtts://gw:pw%40x@broker.example:8884"
        settings.ISMS_MQTT_TOPIC = "isms/environment/#, school/+/env"
        settings.ISMS_MQTT_USERNAME = ""
        config = mqtt.config_from_settings()
        assert (config.host, config.port, config.tls) == ("broker.example", 8884, True)
        assert config.topics == ("isms/environment/#", "school/+/env")
        assert (config.username, config.password) == ("gw", "pw@x")
        assert config.qos == 1 and config.client_id.startswith("isms-ingest-")
        assert "pw@x" not in config.broker
        assert config.label == f"mqtt-ingest:{config.client_id}"

    def test_qos_2_and_a_password_without_user_are_refused(self):
        with pytest.raises(mqtt.ConfigError):
            mqtt.Config(qos=2)
        with pytest.raises(mqtt.ConfigError):
            mqtt.Config(password="secret")

    def test_topic_codes(self):
        assert mqtt.topic_code("isms/environment/srv-room-1") == "srv-room-1"
        assert mqtt.topic_code("isms/environment/") == ""
        assert mqtt.topic_code("isms/environment/機房") == ""


class TestCommand:
    def command(self, root, *args):
        out = io.StringIO()
        call_command(
            "mqtt_ingest",
            "--url",
            f"mqtt://{HOST}:{PORT}",
            "--topic",
            f"{root}/#",
            "--flush-seconds",
            "0.3",
            "--health-minutes",
            "0",
            "--session-expiry",
            "60",
            *args,
            stdout=out,
        )
        return out.getvalue()

    def test_once_takes_what_the_broker_kept_for_the_client(self, sensor, root, caplog):
        caplog.set_level("INFO", logger="isms.facilities.mqtt")
        client_id = f"isms-test-{uuid.uuid4().hex[:12]}"
        secret = "s3cret-Pa55-" + uuid.uuid4().hex[:6]
        try:
            args = ("--client-id", client_id, "--username", "gw", "--password", secret)
            self.command(root, *args, "--once")  # the session and its subscription
            publish(f"{root}/srv-1", reading(2, code=None))
            publish(f"{root}/srv-1", b"{broken")
            out = self.command(root, *args, "--once")
        finally:
            forget_session(client_id)
        assert Reading.objects.filter(sensor=sensor, source=Reading.Source.MQTT).count() == 1
        assert Rejection.objects.filter(sensor=sensor).count() == 1
        assert "2 messages received, 1 readings accepted" in out and "1 rejected" in out
        assert batch_entries().get().actor_label == f"mqtt-ingest:{client_id}"
        assert secret not in out and secret not in caplog.text
        assert "as gw" in caplog.text

    def test_sigterm_flushes_and_exits_cleanly(self, sensor, root):
        client_id = f"isms-test-{uuid.uuid4().hex[:12]}"
        try:
            self.command(root, "--client-id", client_id, "--once")
            publish(f"{root}/gateway", [reading(2), reading(1)])
            timer = threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGTERM))
            timer.start()
            started = time.monotonic()
            out = self.command(
                root, "--client-id", client_id, "--flush-seconds", "600", "--timeout", "15"
            )
            timer.join()
        finally:
            forget_session(client_id)
        assert time.monotonic() - started < 10
        assert Reading.objects.count() == 2 and batch_entries().count() == 1
        assert "2 readings accepted" in out

    def test_max_messages(self, sensor, root):
        client_id = f"isms-test-{uuid.uuid4().hex[:12]}"
        try:
            self.command(root, "--client-id", client_id, "--once")
            for minutes in (3, 2, 1):
                publish(f"{root}/gateway", reading(minutes))
            out = self.command(root, "--client-id", client_id, "--max-messages", "2")
        finally:
            forget_session(client_id)
        assert "2 readings accepted" in out
        assert Reading.objects.count() == 2

    def test_an_unreachable_broker_with_once_is_an_error(self, root):
        with pytest.raises(CommandError, match="could not connect"):
            call_command(
                "mqtt_ingest",
                "--url",
                f"mqtt://{HOST}:1",
                "--topic",
                f"{root}/#",
                "--once",
                "--timeout",
                "1",
            )

    def test_a_bad_url_is_an_error(self, root):
        with pytest.raises(CommandError, match="mqtt://host"):
            call_command("mqtt_ingest", "--url", "http://broker", "--once")
