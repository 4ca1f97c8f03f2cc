"""Stand-ins for the host commands the bootstrap scripts call (aws, systemctl), put first on PATH.

``aws`` models the two Secrets Manager calls the scripts make, as the AWS CLI answers them:
``get-secret-value --query SecretString --output text`` prints the value, or fails (exit 254,
``ResourceNotFoundException``) while a secret has no value yet; ``put-secret-value
--secret-string file://PATH|VALUE`` stores a new version. Secrets live in one JSON file; every
call is logged (command and secret ID only, never a value) so tests can count the writes.
``systemctl`` only logs its arguments.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

__all__ = ["install_stubs", "read_log"]

AWS = r'''#!{python}
import json, sys
from pathlib import Path
store, log = Path({store!r}), Path({log!r})
args = sys.argv[1:]
def opt(name):
    return args[args.index(name) + 1] if name in args else None
secrets = json.loads(store.read_text()) if store.exists() else {{}}
sid = opt("--secret-id")
with log.open("a") as fh:
    fh.write(json.dumps({{"cmd": args[:2], "secret": sid}}) + "\n")
if args[:2] == ["secretsmanager", "get-secret-value"]:
    if sid not in secrets:
        sys.stderr.write("An error occurred (ResourceNotFoundException) when calling the GetSecretValue operation: "
                         "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT\n")
        sys.exit(254)
    print(secrets[sid])
elif args[:2] == ["secretsmanager", "put-secret-value"]:
    value = opt("--secret-string")
    if value.startswith("file://"):
        value = Path(value[7:]).read_text()
    secrets[sid] = value
    store.write_text(json.dumps(secrets))
    print(json.dumps({{"ARN": sid, "VersionId": str(len(secrets))}}))
else:
    sys.stderr.write("aws stub: unsupported call " + " ".join(args[:2]) + "\n")
    sys.exit(2)
'''

SYSTEMCTL = r'''#!/bin/sh
echo "systemctl $*" >> {log!r}
'''


def install_stubs(bin_dir: Path, state_dir: Path) -> dict[str, Path]:
    """Write ``aws`` and ``systemctl`` into ``bin_dir``; return the paths of their store and logs."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    state_dir.mkdir(parents=True, exist_ok=True)
    paths = {"secrets": state_dir / "secrets.json", "aws_log": state_dir / "aws.log",
             "systemctl_log": state_dir / "systemctl.log"}
    aws = bin_dir / "aws"
    aws.write_text(AWS.format(python=sys.executable, store=str(paths["secrets"]), log=str(paths["aws_log"])))
    systemctl = bin_dir / "systemctl"
    systemctl.write_text(SYSTEMCTL.format(log=str(paths["systemctl_log"])))
    for tool in (aws, systemctl):
        tool.chmod(0o755)
    return paths


def read_log(path: Path) -> list[dict]:
    """Return the JSON lines of a stub log (empty when nothing was called)."""
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
