"""Helpers for the Terraform tests: HCL loading, security rules, tool discovery and runs."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any, Iterator

__all__ = [
    "CANARY",
    "CHECKOV_ENV",
    "PLUGIN_MIRROR",
    "SKIP_COMMENT",
    "REPO",
    "ROOTS",
    "TF_DIR",
    "checkov_json",
    "checkov_path",
    "iter_blocks",
    "load_hcl",
    "load_tree",
    "open_ingress",
    "resources",
    "run",
    "terraform_available",
    "unsafe_instances",
]

REPO = Path(__file__).resolve().parents[2]
TF_DIR = REPO / "terraform"
ROOTS = ("site", "central")
PLUGIN_MIRROR = Path("/opt/tf-plugins")
CHECKOV_ENV = "SARCOMA_XNAT_CHECKOV"
OPEN_CIDRS = {"0.0.0.0/0", "::/0"}


def load_hcl(path: Path) -> dict[str, Any]:
    """Parse one .tf file into plain dicts (python-hcl2 >= 8, quotes stripped)."""
    import hcl2

    options = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)
    with open(path, encoding="utf-8") as handle:
        return hcl2.load(handle, serialization_options=options)


def load_tree(root: Path) -> dict[Path, dict[str, Any]]:
    """Parse every .tf file under ``root``, skipping .terraform folders."""
    return {p: load_hcl(p) for p in sorted(root.rglob("*.tf")) if ".terraform" not in p.parts}


def iter_blocks(doc: dict[str, Any], kind: str) -> Iterator[tuple[str, Any]]:
    """Yield (name, body) for top-level blocks of one kind (variable, output, module...)."""
    for entry in doc.get(kind, []):
        yield from entry.items()


def resources(tree: dict[Path, dict[str, Any]], rtype: str | None = None) -> Iterator[tuple[Path, str, str, dict]]:
    """Yield (file, type, name, body) for every resource, optionally of one type."""
    for path, doc in tree.items():
        for entry in doc.get("resource", []):
            for typ, named in entry.items():
                if rtype is None or typ == rtype:
                    for name, body in named.items():
                        yield path, typ, name, body


def _cidrs(body: dict) -> set[str]:
    found = set()
    for key in ("cidr_ipv4", "cidr_ipv6"):
        if isinstance(body.get(key), str):
            found.add(body[key])
    for key in ("cidr_blocks", "ipv6_cidr_blocks"):
        if isinstance(body.get(key), list):
            found.update(c for c in body[key] if isinstance(c, str))
    return found


def open_ingress(tree: dict[Path, dict[str, Any]]) -> list[str]:
    """Name every ingress rule (any of the three HCL forms) open to the whole internet."""
    bad = []
    for path, typ, name, body in resources(tree):
        rules: list[dict] = []
        if typ == "aws_vpc_security_group_ingress_rule":
            rules = [body]
        elif typ == "aws_security_group_rule" and body.get("type") == "ingress":
            rules = [body]
        elif typ == "aws_security_group":
            rules = body.get("ingress", []) or []
        if any(_cidrs(rule) & OPEN_CIDRS for rule in rules):
            bad.append(f"{path.name}:{typ}.{name}")
    return bad


def unsafe_instances(tree: dict[Path, dict[str, Any]]) -> list[str]:
    """Name every aws_instance without IMDSv2, an encrypted root volume, or with a public IP."""
    bad = []
    for path, _typ, name, body in resources(tree, "aws_instance"):
        meta = (body.get("metadata_options") or [{}])[0]
        root = (body.get("root_block_device") or [{}])[0]
        problems = []
        if meta.get("http_tokens") != "required":
            problems.append("IMDSv1 allowed")
        if root.get("encrypted") is not True:
            problems.append("root volume not encrypted")
        if body.get("associate_public_ip_address") is not False:
            problems.append("public IP not ruled out")
        if problems:
            bad.append(f"{path.name}:aws_instance.{name}: {', '.join(problems)}")
    return bad


def checkov_path() -> Path:
    """Return the checkov executable: $SARCOMA_XNAT_CHECKOV or .venv-checkov/bin/checkov."""
    return Path(os.environ.get(CHECKOV_ENV) or REPO / ".venv-checkov" / "bin" / "checkov")


def terraform_available() -> str | None:
    """Say why terraform tests cannot run here, or None when they can."""
    if shutil.which("terraform") is None:
        return "terraform binary not found on PATH"
    if not (PLUGIN_MIRROR / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        return f"AWS provider mirror missing at {PLUGIN_MIRROR}"
    return None


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run a command, capturing text output; never raises on a non-zero exit."""
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def checkov_json(proc: subprocess.CompletedProcess) -> dict[str, Any]:
    """Parse checkov's -o json output (one framework) and return its report."""
    data = json.loads(proc.stdout)
    if isinstance(data, list):
        assert len(data) == 1, [d.get("check_type") for d in data]
        data = data[0]
    return data


SKIP_COMMENT = re.compile(r"#\s*checkov:skip=(?P<id>CKV2?_[A-Z0-9]+_\d+)(?::(?P<reason>.*))?")

# a deliberately bad configuration: every rule and checkov must flag it
CANARY = textwrap.dedent(
    """
    resource "aws_security_group" "open" {
      ingress {
        from_port   = 22
        to_port     = 22
        protocol    = "tcp"
        cidr_blocks = ["0.0.0.0/0"]
      }
    }
    resource "aws_vpc_security_group_ingress_rule" "open6" {
      security_group_id = "sg-1"
      ip_protocol       = "-1"
      cidr_ipv6         = "::/0"
    }
    resource "aws_instance" "legacy" {
      ami           = "ami-0123456789abcdef0"
      instance_type = "t3.micro"
      metadata_options {
        http_tokens = "optional"
      }
    }
    """
)
