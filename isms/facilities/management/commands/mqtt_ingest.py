"""`isms mqtt-ingest`: subscribe to the sensors' MQTT topics and store their readings (3.2).

The loop itself is ``isms.facilities.mqtt.Ingester``; see docs/facilities-mqtt.md.
"""

import logging
import signal
import threading
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from isms.facilities import mqtt

log = logging.getLogger("isms.facilities.mqtt")


class Command(BaseCommand):
    help = (
        "Subscribe to the MQTT broker (ISMS_MQTT_URL, ISMS_MQTT_TOPIC) and store the "
        "temperature and humidity readings published there; reconnects by itself."
    )

    def add_arguments(self, parser):
        parser.add_argument("--url", help="Broker, mqtt://host:1883 or mqtts://host:8883.")
        parser.add_argument(
            "--topic",
            action="append",
            dest="topics",
            help="Topic filter to subscribe to (repeatable; default ISMS_MQTT_TOPIC).",
        )
        parser.add_argument("--username", help="User name at the broker (ISMS_MQTT_USERNAME).")
        parser.add_argument(
            "--password",
            help="Password at the broker; prefer ISMS_MQTT_PASSWORD or --password-file.",
        )
        parser.add_argument("--password-file", help="Read the password from this file.")
        parser.add_argument("--ca-file", help="CA certificates for mqtts:// (default: system).")
        parser.add_argument(
            "--client-id",
            help="Client id at the broker, stable across restarts (default isms-ingest-<host>).",
        )
        parser.add_argument(
            "--qos", type=int, choices=(0, 1), default=1, help="Subscription QoS (default 1)."
        )
        parser.add_argument(
            "--flush-seconds",
            type=float,
            default=2.0,
            help="Store the buffered messages at least this often (default 2).",
        )
        parser.add_argument(
            "--flush-size",
            type=int,
            default=500,
            help="Store at once when this many readings are buffered (default 500).",
        )
        parser.add_argument(
            "--session-expiry",
            type=int,
            default=86400,
            help="Seconds the broker keeps the session while away (default 86400).",
        )
        parser.add_argument(
            "--health-minutes",
            type=float,
            default=15.0,
            help="Log the counts this often (default 15; 0: never).",
        )
        parser.add_argument(
            "--once",
            action="store_true",
            help="Take what the broker holds for this client, store it, then exit.",
        )
        parser.add_argument(
            "--max-messages", type=int, default=0, help="Exit after N messages (0: never)."
        )
        parser.add_argument(
            "--timeout", type=float, default=0, help="Exit after this many seconds (0: never)."
        )

    def handle(self, *args, **options):
        password = options["password"]
        if options["password_file"]:
            try:
                password = Path(options["password_file"]).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise CommandError(f"cannot read the password file: {exc}") from exc
        try:
            config = mqtt.config_from_settings(
                url=options["url"],
                topics=options["topics"],
                username=options["username"],
                password=password,
                ca_file=options["ca_file"],
                client_id=options["client_id"],
                qos=options["qos"],
                flush_seconds=options["flush_seconds"],
                flush_size=options["flush_size"],
                session_expiry=options["session_expiry"],
                health_minutes=options["health_minutes"],
            )
            ingester = mqtt.Ingester(config)
        except (mqtt.ConfigError, ValueError, FileNotFoundError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        once = options["once"]
        timeout = options["timeout"] or (30.0 if once else None)

        def stop(signum, frame):
            log.info("mqtt-ingest %s: signal %s, flushing and stopping", config.client_id, signum)
            ingester.stop()

        previous = {}
        if threading.current_thread() is threading.main_thread():  # signals reach it only
            previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        ingester.start()
        try:
            if once and not ingester.wait_subscribed(timeout):
                raise CommandError(f"could not connect and subscribe to {config.broker}")
            stats = ingester.run(
                max_messages=max(options["max_messages"], 0),
                timeout=timeout,
                idle=config.flush_seconds if once else None,
            )
        finally:
            ingester.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        log.info("mqtt-ingest %s stopped: %s", config.client_id, stats.line())
        self.stdout.write(f"mqtt-ingest {config.client_id}: {stats.line()}")
