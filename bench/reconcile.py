"""The reconciliation bench: a 10,000-row CSV against a system with 10,000 accounts.

``bench()`` builds, inside a transaction that is rolled back at the end (the bench
database is left as it was), one system with ``n`` accounts of the bench people, and a
UTF-8 CSV of ``n`` rows exported "from" it: most rows match, some are new, some accounts
are missing, some differ in status, name or sign-in, some holders have left. It then times
what the request does after the officer chooses the columns — read every row, compare
with the register and the people directory, store the result (``reconcile.run``) — and
the reading of the header at upload (``reconcile.inspect``). Target: under 10 s.

Run alone: ``python -m bench.reconcile`` (uses the bench database, see bench/__main__.py).
"""

import csv
import datetime as dt
import io
import random
import time

TARGET_SECONDS = 10.0


def build_csv(accounts, n: int, rng: random.Random, now: dt.datetime) -> bytes:
    """The exported list: the register's accounts with drift, plus new ones."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["帳號", "顯示名稱", "電子郵件", "啟用", "最後登入"])
    written = 0
    for i, (username, status) in enumerate(accounts):
        if i % 20 == 7:  # 5 % no longer on the system
            continue
        enabled = "是" if status == "active" else "否"
        if i % 50 == 3:  # 2 % differ in status
            enabled = "否" if enabled == "是" else "是"
        seen = now - dt.timedelta(days=rng.randint(0, 400), minutes=rng.randint(0, 1440))
        last = "" if i % 40 == 5 else seen.strftime("%Y-%m-%d %H:%M:%S")
        email = f"{username}@bench.school.edu.tw"
        writer.writerow([username, f"使用者{i:05d}", email, enabled, last])
        written += 1
    i = 0
    while written < n:  # new accounts, unknown to the register
        writer.writerow([f"new{i:05d}", f"新帳號{i:05d}", "", "是", ""])
        written += 1
        i += 1
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def bench(n: int = 10_000, apply: bool = False) -> dict:
    """Time reading + comparing (and, with ``apply``, applying: informational, no target)."""
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from isms.core.models import Person
    from isms.identity import reconcile
    from isms.identity.models import Account, InformationSystem

    rng = random.Random(7)
    now = timezone.now()
    result = {}
    with transaction.atomic():
        people = list(Person.objects.order_by("id").values_list("id", flat=True)[:3000])
        if not people:
            people = [
                p.pk
                for p in Person.objects.bulk_create(
                    Person(name=f"bench person {i}") for i in range(300)
                )
            ]
        # Some holders have left: their accounts still enabled are findings.
        Person.objects.filter(pk__in=people[::50]).update(status=Person.Status.LEFT)
        user = get_user_model().objects.order_by("id").first()
        if user is None:
            user = get_user_model().objects.create(username="bench-reconcile")
        system = InformationSystem.objects.create(name=f"bench reconcile {now.timestamp()}")
        rows = []
        for i in range(n):
            kind = rng.choice(["personal"] * 8 + ["shared", "privileged"])
            name = f"acct{i:05d}"
            rows.append(
                Account(
                    system=system,
                    username=name,
                    username_key=name,
                    person_id=rng.choice(people) if kind == "personal" else None,
                    kind=kind,
                    rights="admin" if kind == "privileged" else "",
                    status=rng.choice(["active"] * 9 + ["disabled"]),
                    display_name=f"使用者{i:05d}" if i % 3 else "",
                )
            )
        Account.objects.bulk_create(rows, batch_size=2000)
        data = build_csv([(a.username, a.status) for a in rows], n, rng, now)

        start = time.perf_counter()
        upload = SimpleUploadedFile("bench.csv", data)
        kind = reconcile.check_file(upload)
        imp = reconcile.save_upload(
            system=system, upload=upload, data=data, kind=kind, unused_days=180, actor=user
        )
        upload_s = time.perf_counter() - start

        try:
            start = time.perf_counter()
            with CaptureQueriesContext(connection) as queries:
                reconcile.run(imp, columns=imp.mapping["columns"], unused_days=180, actor=user)
            read_s = time.perf_counter() - start
            result = {
                "rows": imp.rows,
                "register_accounts": n,
                "encoding": imp.encoding,
                "upload_and_header_seconds": round(upload_s, 3),
                "read_and_compare_seconds": round(read_s, 3),
                "queries": len(queries),
                "bad_rows": len(imp.errors),
                "differences": imp.differences["counts"],
                "target": f"read + compare < {TARGET_SECONDS:.0f} s",
                "ok": read_s < TARGET_SECONDS,
            }
            if apply:
                start = time.perf_counter()
                with CaptureQueriesContext(connection) as queries:
                    counts = reconcile.apply(
                        imp,
                        actor=user,
                        digest_seen=imp.differences["digest"],
                        unmatched_kind=Account.Kind.SHARED,
                    )
                result["apply_seconds"] = round(time.perf_counter() - start, 2)
                result["apply_queries"] = len(queries)
                result["applied"] = counts
        finally:
            imp.file.storage.delete(imp.file.name)
            transaction.set_rollback(True)
    return result


if __name__ == "__main__":  # pragma: no cover - a manual run
    import argparse
    import json

    from bench.__main__ import configure

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--apply", action="store_true", help="also time applying (slow)")
    args = parser.parse_args()
    configure(args)
    print(json.dumps(bench(args.n, apply=args.apply), ensure_ascii=False, indent=2))
