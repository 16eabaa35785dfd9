"""The `isms` console script: Django's management commands under one name.

Sub-commands may be written with hyphens (`isms audit-verify`); they map to the
underscored command modules (`audit_verify`).
"""

import getpass
import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "isms.settings")
    from django.core.management import execute_from_command_line

    args = list(sys.argv if argv is None else argv)
    if len(args) > 1 and not args[1].startswith("-"):
        args[1] = args[1].replace("-", "_")
    args[0] = "isms"
    if len(args) > 1:
        # Writes made by a command name it and the operating-system account that ran it.
        os.environ.setdefault("ISMS_ACTOR_LABEL", f"cli:{args[1]} ({getpass.getuser()})")
    execute_from_command_line(args)


if __name__ == "__main__":
    main()
