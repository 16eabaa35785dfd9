"""The asset bench: 5,000 assets of the bench units and people; the register's list page
(unfiltered, one kind, one finding) and its API list, each beside its floor.

Seeded with bulk_create (the services' rules are tested elsewhere; here only the reading
paths are timed), deterministic, once. Run alone: ``python -m bench.assets`` (uses the bench
database, see bench/__main__.py; seed it first with ``./dev bench`` once).
"""

import datetime as dt
import json
import random

COUNT = 5000
LOOP = (
    '<table>{% for a in rows %}<tr><td><a href="/assets/assets/{{ a.pk }}/">'
    "{{ a.property_number }}</a></td><td>{{ a.name }}</td><td>{{ a.get_kind_display }}</td>"
    "<td>{{ a.location }}</td><td>{{ a.unit.name }}</td><td>{{ a.custodian.name }}</td>"
    "<td>{{ a.get_state_display }}</td><td>{{ a.notes }}</td></tr>{% endfor %}</table>"
)
KINDS = (
    ["pc"] * 60
    + ["notebook"] * 10
    + ["usb"] * 8
    + ["printer"] * 5
    + ["network"] * 5
    + ["tablet", "tablet", "tablet", "smartphone", "smartphone", "disk", "disk", "disk"]
    + ["server", "other", "other"]
)
ROOMS = ["電腦教室（一）", "電腦教室（二）", "教務處", "學務處", "總務處", "圖書館", "資訊機房"]


def seed():
    from django.utils import timezone

    from isms.assets.models import Asset
    from isms.core.models import Person, Unit
    from isms.identity.models import InformationSystem

    if Asset.objects.filter(property_number__startswith="B-").count() >= COUNT:
        return
    Asset.objects.filter(property_number__startswith="B-").delete()
    rng = random.Random(6)
    now = timezone.now()
    units = list(Unit.objects.order_by("id").values_list("id", flat=True)) or [None]
    people = list(Person.objects.order_by("id").values_list("id", flat=True)[:3000]) or [None]
    rows = []
    for n in range(COUNT):
        kind = rng.choice(KINDS)
        computer = kind in Asset.COMPUTERS
        rows.append(
            Asset(
                kind=kind,
                property_number=f"B-{n:05d}",
                name=f"bench {kind} {n}",
                brand=rng.choice(["Acer", "ASUS", "Lenovo", "HP", "Dell"]),
                model=f"M{rng.randrange(100, 999)}",
                location=rng.choice(ROOMS),
                unit_id=rng.choice(units),
                custodian_id=rng.choice(people),
                state=rng.choice(["in_use"] * 8 + ["storage", "repair"]),
                shared=kind == "pc" and n % 4 == 0,
                downloads_restricted=n % 8 == 0,
                installs_restricted=n % 4 == 0,
                data_access_restricted=n % 4 == 0,
                protection="password" if kind in Asset.PORTABLE and n % 10 else "",
                sensitivity="sensitive" if kind in Asset.MEDIA else "",
                media_control="locked" if kind in Asset.MEDIA and n % 5 else "",
                antivirus=computer,
                antivirus_updated_at=now - dt.timedelta(hours=rng.randrange(1, 24 * 14))
                if computer
                else None,
                patched_at=now - dt.timedelta(days=rng.randrange(1, 60)) if computer else None,
                auto_updates=computer,
                software_licensed=computer,
                licence_evidence="bench licence" if computer else "",
                screen_lock=computer and n % 20 != 0,
            )
        )
    Asset.objects.bulk_create(rows, batch_size=1000)
    systems = list(InformationSystem.objects.order_by("id").values_list("id", flat=True)[:30])
    servers = Asset.objects.filter(kind="server", property_number__startswith="B-")
    through = Asset.systems.through
    links = []
    for i, server in enumerate(servers.values_list("id", flat=True)):
        for system in systems[i % max(len(systems), 1) :][: 1 + i % 2]:
            links.append(through(asset_id=server, informationsystem_id=system))
    through.objects.bulk_create(links, ignore_conflicts=True)


def page_floor(engine, kind=None, finding=None):
    from isms.assets import services
    from isms.assets.models import Asset

    template = engine.from_string(LOOP)

    def floor():
        qs = Asset.objects.filter(voided_at__isnull=True).select_related("unit", "custodian")
        if kind:
            qs = qs.filter(kind=kind)
        if finding:
            qs = qs.filter(services.finding_q(finding))
        rows = list(qs.prefetch_related("systems").order_by("property_number", "id")[:50])
        return template.render({"rows": rows})

    return floor


def json_floor():
    from isms.assets.models import Asset
    from isms.assets.views import AssetRegister

    fields = [
        f"{name}_id" if name in {"unit", "custodian"} else name
        for name in AssetRegister.serializer_class.Meta.fields
        if name not in {"systems", "findings", "correction"}  # not columns (correction: write-only)
    ]

    def floor():
        qs = Asset.objects.filter(voided_at__isnull=True).order_by("property_number", "id")
        return json.dumps(list(qs.values(*fields)[:50]), default=str)

    return floor


def bench(page, api, engine):
    """Seed, then time each reading path with the caller's ``page`` and ``api``."""
    seed()
    page("asset list page", "/assets/assets/", page_floor(engine))
    page("asset list page, one kind", "/assets/assets/?kind=pc", page_floor(engine, kind="pc"))
    page(
        "asset list page, one finding",
        "/assets/assets/?finding=antivirus",
        page_floor(engine, finding="antivirus"),
    )
    api("asset API list", "/api/assets/", json_floor())


def main():  # pragma: no cover - a manual run
    import argparse

    from bench.__main__ import configure, count_queries, timed_pair

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=60)
    args = parser.parse_args()
    configure(args)
    from bench import seed as bench_seed

    bench_seed.ensure(people=3000, audit=200_000)  # migrates; seeds only a new database
    from django.template import engines
    from django.test import Client

    from isms.core import services as core_services
    from isms.core.models import ApiToken, User

    officer = User.objects.get(username="bench-officer")
    client = Client()
    client.force_login(officer)
    ApiToken.objects.filter(user=officer, name="bench").delete()
    _token, key = core_services.token_create(user=officer, name="bench", actor=None)
    api_client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    rows = []

    def measure(name, url, floor_fn, *, http, ratio, target_ms=None):
        def hit():
            response = http.get(url)
            assert response.status_code == 200, (url, response.status_code)

        timing, floor = timed_pair(hit, floor_fn, args.repeat)
        ok = timing["p95"] <= ratio * floor["p95"]
        if target_ms is not None:
            ok = ok and timing["p95"] <= target_ms
        rows.append(
            {
                "name": name,
                "url": url,
                "p50_ms": round(timing["p50"], 2),
                "p95_ms": round(timing["p95"], 2),
                "floor_p50_ms": round(floor["p50"], 2),
                "floor_p95_ms": round(floor["p95"], 2),
                "ratio_p95": round(timing["p95"] / floor["p95"], 2),
                "queries": count_queries(hit),
                "target": f"p95 <= {target_ms} ms and <= {ratio}x floor"
                if target_ms
                else f"<= {ratio}x floor",
                "ok": ok,
            }
        )

    bench(
        lambda name, url, floor: measure(name, url, floor, http=client, ratio=3.0, target_ms=50),
        lambda name, url, floor: measure(name, url, floor, http=api_client, ratio=4.0),
        engines["django"],
    )
    from isms.assets.models import Asset

    few = count_queries(lambda: client.get("/assets/assets/?q=B-0000"))
    many = count_queries(lambda: client.get("/assets/assets/"))
    print(f"\n{Asset.objects.count()} assets; list page queries, 10 rows vs 50: {few} vs {many}\n")
    for r in rows:
        mark = "ok" if r["ok"] else "MISSED"
        print(
            f"{r['name']:<32}{r['p50_ms']:>8.2f}{r['p95_ms']:>8.2f}{r['floor_p95_ms']:>8.2f}"
            f"{r['ratio_p95']:>7.2f}{r['queries']:>4}  {r['target']} {mark}"
        )


if __name__ == "__main__":  # pragma: no cover - a manual run
    main()
