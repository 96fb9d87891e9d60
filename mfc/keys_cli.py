"""``mfc keys``: create, list, rotate and revoke API keys in the store's database (``MFC_DB``).

A new or rotated key is printed once, alone on standard output (``KEY=$(mfc keys create …)``);
everything else goes to standard error.  Running API processes see a change within a few
seconds (``services.access.keyring``); nothing needs a restart.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from services.config.settings_core import ROLES, SettingsError

if TYPE_CHECKING:
    from services.access.keys import KeyStore, StoredKey


def _when(t: float | None) -> str:
    return "-" if t is None else datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _open() -> KeyStore:
    from services.access.keys import KeyStore
    from services.config.settings import Settings
    return KeyStore(Settings.from_env().db)


def cmd_create(args: argparse.Namespace, store: KeyStore) -> int:
    key, secret = store.create(args.role, args.name, time.time())
    print(secret, flush=True)
    print(f"mfc keys: created {key.id} ({key.role} {key.name!r}); the key above is shown only now",
          file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace, store: KeyStore) -> int:
    rows = store.all(include_revoked=args.all)
    print(f"{'id':<10} {'prefix':<11} {'role':<10} {'name':<20} {'created':<20} {'last used':<20} state")
    for k in rows:
        print(f"{k.id:<10} {k.prefix + '…':<11} {k.role:<10} {k.name:<20} {_when(k.created_s):<20} "
              f"{_when(k.last_used_s):<20} {_state(k)}")
    return 0


def _state(k: StoredKey) -> str:
    if k.revoked_s is not None:
        return f"revoked {_when(k.revoked_s)}"
    return f"rotated {_when(k.rotated_s)}" if k.rotated_s is not None else "active"


def cmd_rotate(args: argparse.Namespace, store: KeyStore) -> int:
    key, secret = store.rotate(args.id, time.time())
    print(secret, flush=True)
    print(f"mfc keys: new secret for {key.id} ({key.role} {key.name!r}), shown only now; the old one "
          "stops working within seconds", file=sys.stderr)
    return 0


def cmd_revoke(args: argparse.Namespace, store: KeyStore) -> int:
    if not store.revoke(args.id, time.time()):
        from services.access.keys import KeyStoreError
        raise KeyStoreError(f"no active key {args.id!r}")
    print(f"mfc keys: revoked {args.id}; running API processes refuse it within seconds", file=sys.stderr)
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from services.access.keys import KeyStoreError
    try:
        store = _open()
    except SettingsError as exc:
        print(f"mfc keys: {exc}", file=sys.stderr)
        return 2
    try:
        return args.keys_func(args, store)
    except KeyStoreError as exc:
        print(f"mfc keys: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()


def add_commands(sub: argparse._SubParsersAction) -> None:
    k = sub.add_parser("keys", help="admin: create, list, rotate and revoke API keys (in MFC_DB)")
    k.set_defaults(func=cmd_keys)
    ks = k.add_subparsers(dest="keys_command", required=True)
    c = ks.add_parser("create", help="a new key, printed once")
    c.add_argument("--role", required=True, choices=ROLES)
    c.add_argument("--name", required=True, help="who holds it: the agency for agency keys, the sensor owner "
                                                  "for integrator keys")
    c.set_defaults(keys_func=cmd_create)
    ls = ks.add_parser("list", help="id, prefix, role, name, created, last used (never the key)")
    ls.add_argument("--all", action="store_true", help="include revoked keys")
    ls.set_defaults(keys_func=cmd_list)
    r = ks.add_parser("rotate", help="a new secret for a key; the old one stops working")
    r.add_argument("id")
    r.set_defaults(keys_func=cmd_rotate)
    v = ks.add_parser("revoke", help="the key stops working")
    v.add_argument("id")
    v.set_defaults(keys_func=cmd_revoke)
