"""Fixtures for the Terraform tests: a throw-away copy of terraform/ and offline terraform runs."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tfhelpers import CHECKOV_ENV, PLUGIN_MIRROR, ROOTS, TF_DIR, checkov_path, load_tree, run, terraform_available

CLI_CONFIG = f"""
provider_installation {{
  filesystem_mirror {{
    path    = "{PLUGIN_MIRROR}"
    include = ["registry.terraform.io/hashicorp/aws"]
  }}
  direct {{
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }}
}}
"""

# fake credentials and no AWS calls: plans run offline (no data sources in the roots)
OFFLINE_PROVIDER = """
provider "aws" {
  access_key                  = "mock-access-key"
  secret_key                  = "mock-secret-key"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  allowed_account_ids         = null
}
"""


@pytest.fixture(scope="session")
def tf_tree():
    """Every .tf file of terraform/, parsed with python-hcl2."""
    return load_tree(TF_DIR)


@pytest.fixture(scope="session")
def checkov():
    """Path of checkov (its own venv); missing means the install script was not run."""
    path = checkov_path()
    if not path.exists():
        pytest.fail(f"checkov not found at {path}: run scripts/install.d/terraform.sh (or set {CHECKOV_ENV})")
    return path


@pytest.fixture(scope="session")
def tf_env(tmp_path_factory):
    """Environment for terraform: CLI config, home and plugin cache in a temp dir, no checkpoint."""
    reason = terraform_available()
    if reason:
        pytest.skip(f"terraform tests skipped: {reason}")
    home = tmp_path_factory.mktemp("tf-home")
    (home / "cli.tfrc").write_text(CLI_CONFIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "AWS_"))}
    env.update(
        HOME=str(home),
        TF_CLI_CONFIG_FILE=str(home / "cli.tfrc"),
        CHECKPOINT_DISABLE="1",
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


@pytest.fixture(scope="session")
def tf_copy(tmp_path_factory, tf_env):
    """A copy of terraform/ in a temp dir (terraform writes .terraform and lock files there)."""
    dest = tmp_path_factory.mktemp("tf") / "terraform"
    shutil.copytree(TF_DIR, dest, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", ".terraform.lock.hcl", "terraform.tfvars"))
    return dest


@pytest.fixture(scope="session")
def initialized_roots(tf_copy, tf_env):
    """Run `terraform init -backend=false` against the local mirror in both example roots."""
    roots = {}
    for name in ROOTS:
        root = tf_copy / "examples" / name
        proc = run(["terraform", "init", "-backend=false", "-input=false", "-no-color"], root, tf_env)
        assert proc.returncode == 0, f"init {name} failed:\n{proc.stdout}\n{proc.stderr}"
        roots[name] = root
    return roots


@pytest.fixture(scope="session")
def plans(initialized_roots, tf_env):
    """Plan each root twice with fake credentials and return {(root, variant): plan JSON path}.

    Variant "default" creates the KMS keys (their ARNs are unknown until apply); variant "byok"
    passes existing key ARNs, so every encryption setting has its final value in the plan.
    """
    byok = [
        "-var", "data_kms_key_arn=arn:aws:kms:eu-west-2:111122223333:key/11111111-2222-3333-4444-555555555555",
        "-var", "logs_kms_key_arn=arn:aws:kms:eu-west-2:111122223333:key/66666666-7777-8888-9999-000000000000",
    ]
    out = {}
    for name, root in initialized_roots.items():
        (root / "zz_offline_override.tf").write_text(OFFLINE_PROVIDER)
        for variant, extra in (("default", []), ("byok", byok)):
            planfile = f"{variant}.tfplan"
            proc = run(
                ["terraform", "plan", "-input=false", "-no-color", "-lock=false",
                 "-var-file=terraform.tfvars.example", f"-out={planfile}", *extra],
                root, tf_env,
            )
            assert proc.returncode == 0, f"plan {name}/{variant} failed:\n{proc.stdout[-3000:]}\n{proc.stderr}"
            show = run(["terraform", "show", "-json", planfile], root, tf_env)
            assert show.returncode == 0, show.stderr
            path = root / f"{variant}.tfplan.json"
            path.write_text(show.stdout)
            out[(name, variant)] = path
    return out
