"""``sarcoma-xnat xnat install|whoami|subscriptions|launch``: set up, inspect and run the suite in an XNAT.

Credentials: ``--host``/``--user``, the password from ``XNAT_PASS`` or ``~/.netrc``
(never on the command line, where ``ps`` would show it), or a prompt on a terminal.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add ``xnat install``, ``xnat whoami``, ``xnat subscriptions`` and ``xnat launch``."""
    xnat = subparsers.add_parser("xnat", help="install the suite into an XNAT and inspect it")
    sub = xnat.add_subparsers(dest="xnat_command", metavar="ACTION", required=True)

    def server_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--host", help="XNAT URL (default: XNAT_HOST)")
        p.add_argument("--user", help="user or alias token (default: XNAT_USER, then ~/.netrc)")
        p.add_argument("--netrc", help="netrc file (default: ~/.netrc)")

    install = sub.add_parser("install", help="install every command of xnat-commands/, enable "
                                             "them for the site and a project, and subscribe "
                                             "preprocessing to ROI collection saves")
    server_options(install)
    install.add_argument("--project", required=True, help="project to enable the commands for")
    install.add_argument("--commands", help="folder of command JSON (default: xnat-commands/)")
    install.add_argument("--trigger", action="append", default=None, metavar="NAME",
                         help="commands (name contains NAME) launched on ROI saves "
                              "(default: preprocess; repeatable)")
    install.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    install.set_defaults(_run=_install)

    whoami = sub.add_parser("whoami", help="log in and print the server, version and user")
    server_options(whoami)
    whoami.set_defaults(_run=_whoami)

    subs = sub.add_parser("subscriptions", help="list Event Service subscriptions and check each")
    server_options(subs)
    subs.set_defaults(_run=_subscriptions)

    launch = sub.add_parser("launch", help="run a wrapper over the sessions of a project "
                                           "(Container Service bulk launch) and wait for it")
    server_options(launch)
    launch.add_argument("--project", required=True, help="project whose sessions to run on")
    launch.add_argument("--wrapper", required=True, help="wrapper name, e.g. sarcoma-prognosis-session")
    launch.add_argument("--missing", action="store_true",
                        help="only sessions that lack the wrapper's output resource")
    launch.add_argument("--resource", help="output resource label that marks a session as done "
                                           "(default: the wrapper's Resource output handler)")
    launch.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="launch parameter for every session (repeatable)")
    launch.add_argument("--timeout", type=float, default=3600, help="seconds to wait (default 3600)")
    launch.add_argument("--no-wait", action="store_true", help="queue the launches and return")
    launch.set_defaults(_run=_launch)


def _connect(args: argparse.Namespace) -> Any:
    from sarcoma_xnat.xnat import connect
    from sarcoma_xnat.xnat.auth import resolve_credentials

    creds = resolve_credentials(args.host, args.user, None, args.netrc)
    password = creds.password
    if password is None and creds.user and sys.stdin.isatty():
        password = getpass.getpass(f"password for {creds.user} at {creds.host}: ")
    return connect(creds.host, creds.user, password, netrc_file=args.netrc)


def _install(args: argparse.Namespace) -> int:
    from sarcoma_xnat.xnat.install import install_suite, load_suite_commands

    commands = load_suite_commands(args.commands)
    with _connect(args) as client:
        changes = install_suite(client, args.project, commands, dry_run=args.dry_run,
                                triggered=tuple(args.trigger or ("preprocess",)))
    verb = "would change" if args.dry_run else "changed"
    print(f"{len(commands)} command(s); {verb} {len(changes)} thing(s)"
          + ("" if changes else ": already installed"))
    return 0


def _whoami(args: argparse.Namespace) -> int:
    with _connect(args) as client:
        print(f"{client.url} (XNAT {client.version()}): logged in as {client.user}")
    return 0


def _subscriptions(args: argparse.Namespace) -> int:
    from sarcoma_xnat.errors import ConfigurationError

    bad = 0
    with _connect(args) as client:
        # a disabled Event Service lists no subscriptions at all (xnat-web EventServiceImpl)
        client.events.require_enabled()
        for sub in client.events.subscriptions():
            try:
                client.events.verify(int(sub["id"]))
                state = "ok"
            except ConfigurationError as exc:
                state, bad = f"BROKEN: {exc}", bad + 1
            flt = sub.get("event-filter") or {}
            print(f"{sub['id']:>4}  {sub.get('name')}  [{flt.get('event-type', '?').rsplit('.', 1)[-1]}"
                  f" {flt.get('status', '')}] -> {sub.get('action-key')}  {state}")
    return 1 if bad else 0


def _launch(args: argparse.Namespace) -> int:
    from sarcoma_xnat.errors import ConfigurationError
    from sarcoma_xnat.xnat.bulk import plan_bulk, run_bulk

    params = {}
    for item in args.param:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ConfigurationError(f"--param {item!r}: expected NAME=VALUE")
        params[name] = value
    with _connect(args) as client:
        plan = plan_bulk(client, args.project, args.wrapper, args.missing, args.resource)
        print(f"{args.wrapper}: {len(plan.targets)} session(s) to run"
              + (f", {len(plan.skipped)} already have {plan.resource}" if plan.skipped else ""))
        result = run_bulk(client, plan, args.project, params, timeout=args.timeout,
                          wait=not args.no_wait)
    if result.bulk_id:
        print(f"bulk launch {result.bulk_id}: {result.launched} queued, {len(result.refused)} refused")
    for line in result.refused:
        print(f"refused {line}", file=sys.stderr)
    for record in result.failed:
        print(f"container {record.get('id')} {record.get('status')} "
              f"(logs: /xapi/containers/{record.get('id')}/logs)", file=sys.stderr)
    if result.unfinished:
        print(f"{result.unfinished} container(s) not finished after {args.timeout:.0f}s",
              file=sys.stderr)
    if not args.no_wait and result.launched:
        print(f"{result.launched - len(result.failed) - result.unfinished} complete, "
              f"{len(result.failed)} failed")
    return 0 if result.ok else 1
