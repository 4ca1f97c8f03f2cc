"""Static checks of terraform/ with python-hcl2: structure, typing, and security properties."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tfhelpers import (
    CANARY,
    ROOTS,
    SKIP_COMMENT,
    TF_DIR,
    iter_blocks,
    load_hcl,
    open_ingress,
    resources,
    unsafe_instances,
)

MODULES = ["network", "kms", "xnat", "container_service", "nvflare_client", "dicom_bucket", "nvflare_server",
           "security_baseline"]


def _files(tree, folder: Path):
    return {p: d for p, d in tree.items() if p.parent == folder}


@pytest.mark.parametrize("module", MODULES)
def test_module_has_standard_files(module):
    folder = TF_DIR / "modules" / module
    for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
        assert (folder / name).is_file(), f"modules/{module} lacks {name}"


@pytest.mark.parametrize("root", ROOTS)
def test_root_has_example_tfvars_covering_required_variables(tf_tree, root):
    folder = TF_DIR / "examples" / root
    required = {
        name
        for doc in _files(tf_tree, folder).values()
        for name, body in iter_blocks(doc, "variable")
        if "default" not in body
    }
    example = folder / "terraform.tfvars.example"
    assert example.is_file()
    given = set(re.findall(r"^([a-z_0-9]+)\s*=", example.read_text(), flags=re.M))
    assert required, "a root without required variables is suspicious"
    assert required <= given, f"{root}/terraform.tfvars.example misses {sorted(required - given)}"


def test_every_variable_is_typed_and_described(tf_tree):
    problems = []
    for path, doc in tf_tree.items():
        for name, body in iter_blocks(doc, "variable"):
            if not body.get("type"):
                problems.append(f"{path.relative_to(TF_DIR)}: variable {name} has no type")
            if len(str(body.get("description", ""))) < 15:
                problems.append(f"{path.relative_to(TF_DIR)}: variable {name} has no real description")
    assert not problems, "\n".join(problems)


def test_every_output_is_described(tf_tree):
    missing = [
        f"{p.relative_to(TF_DIR)}: output {name}"
        for p, doc in tf_tree.items()
        for name, body in iter_blocks(doc, "output")
        if not body.get("description")
    ]
    assert not missing, missing


def test_risky_inputs_are_validated(tf_tree):
    # a wrong value here opens the site or breaks encryption: each must carry a validation block
    risky = {"allowed_cidrs", "certificate_arn", "client_cidrs", "site_fl_cidrs", "kms_key_arn",
             "fl_server_ip", "transit_gateway_id", "ami_id", "account_id", "xnat_project"}
    unvalidated = [
        f"{p.relative_to(TF_DIR)}: {name}"
        for p, doc in tf_tree.items()
        for name, body in iter_blocks(doc, "variable")
        if name in risky and not body.get("validation")
    ]
    assert not unvalidated, unvalidated


def test_only_the_aws_provider_pinned_below_6(tf_tree):
    seen = 0
    for path, doc in tf_tree.items():
        for block in doc.get("terraform", []):
            for req in block.get("required_providers", []):
                assert set(req) == {"aws"}, f"{path}: providers other than aws: {set(req) - {'aws'}}"
                aws = req["aws"]
                assert aws["source"] == "hashicorp/aws"
                assert re.fullmatch(r">= ?5\.\d+, ?< ?6\.0", aws["version"]), f"{path}: {aws['version']}"
                seen += 1
        for provider in doc.get("provider", []):
            assert set(provider) == {"aws"}, f"{path}: provider block {set(provider)}"
    assert seen == len(MODULES) + len(ROOTS), "every module and root needs a versions.tf pin"


def test_no_data_sources_so_plans_run_without_aws(tf_tree):
    found = [str(p.relative_to(TF_DIR)) for p, doc in tf_tree.items() if doc.get("data")]
    assert not found, f"data sources need AWS API calls at plan time: {found}"


def test_module_sources_are_local(tf_tree):
    sources = [body["source"] for doc in tf_tree.values() for _n, body in iter_blocks(doc, "module")]
    assert sources, "the roots should call the modules"
    assert all(s.startswith(("./", "../")) for s in sources), sources


def test_no_ingress_from_the_whole_internet(tf_tree):
    assert open_ingress(tf_tree) == []


def test_instances_use_imdsv2_encrypted_roots_and_no_public_ip(tf_tree):
    instances = list(resources(tf_tree, "aws_instance"))
    assert len(instances) == 4, [n for _p, _t, n, _b in instances]
    assert unsafe_instances(tf_tree) == []


def test_nvflare_client_security_group_has_no_ingress_and_narrow_egress(tf_tree):
    doc = load_hcl(TF_DIR / "modules" / "nvflare_client" / "main.tf")
    tree = {TF_DIR / "modules" / "nvflare_client" / "main.tf": doc}
    client_ref = "${aws_security_group.client.id}"
    sg = [b for _p, _t, n, b in resources(tree, "aws_security_group") if n == "client"]
    assert sg and "ingress" not in sg[0] and "egress" not in sg[0]
    ingress_on_client = [
        n for _p, t, n, b in resources(tf_tree)
        if t in ("aws_vpc_security_group_ingress_rule", "aws_security_group_rule")
        and b.get("security_group_id") == client_ref
    ]
    assert ingress_on_client == []
    egress = {n: b for _p, _t, n, b in resources(tree, "aws_vpc_security_group_egress_rule")}
    assert set(egress) == {"fl_server", "s3", "endpoints", "xnat"}
    assert egress["fl_server"]["cidr_ipv4"] == "${var.fl_server_ip}/32"
    assert egress["s3"]["prefix_list_id"] == "${var.s3_prefix_list_id}"
    for name in ("s3", "endpoints", "xnat"):
        assert (egress[name]["from_port"], egress[name]["to_port"]) == (443, 443), name
    assert all(b["security_group_id"] == client_ref and b["ip_protocol"] == "tcp" for b in egress.values())


def test_database_is_private_encrypted_tls_only_and_protected(tf_tree):
    [(_p, _t, _n, db)] = list(resources(tf_tree, "aws_db_instance"))
    assert db["publicly_accessible"] is False
    assert db["storage_encrypted"] is True and db["kms_key_id"] == "${var.kms_key_arn}"
    assert db["manage_master_user_password"] is True and "password" not in db
    assert db["deletion_protection"] is True and db["skip_final_snapshot"] is False
    assert isinstance(db["backup_retention_period"], str) or db["backup_retention_period"] >= 7
    [(_p, _t, _n, params)] = list(resources(tf_tree, "aws_db_parameter_group"))
    assert {"name": "rds.force_ssl", "value": "1"} in params["parameter"]


def test_load_balancer_is_https_only(tf_tree):
    listeners = {n: b for _p, _t, n, b in resources(tf_tree, "aws_lb_listener")}
    https = [b for b in listeners.values() if b["protocol"] == "HTTPS"]
    assert len(https) == 1 and https[0]["ssl_policy"].startswith("ELBSecurityPolicy-TLS13-")
    for body in listeners.values():
        if body["protocol"] != "HTTPS":
            action = body["default_action"][0]
            assert action["type"] == "redirect" and action["redirect"][0]["protocol"] == "HTTPS"
    [(_p, _t, _n, lb)] = list(resources(tf_tree, "aws_lb"))
    assert lb["drop_invalid_header_fields"] is True


def test_buckets_are_private_versioned_and_tls_only(tf_tree):
    pab = [b for _p, _t, _n, b in resources(tf_tree, "aws_s3_bucket_public_access_block")]
    assert len(pab) == 3  # data, access logs, audit (CloudTrail + Config)
    for body in pab:
        assert all(body[k] is True for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"))
    policies = [b["policy"] for _p, _t, _n, b in resources(tf_tree, "aws_s3_bucket_policy")]
    assert len(policies) == 3 and all("aws:SecureTransport" in p for p in policies)
    sse = {n: b for _p, _t, n, b in resources(tf_tree, "aws_s3_bucket_server_side_encryption_configuration")}
    rule = sse["data"]["rule"][0]["apply_server_side_encryption_by_default"][0]
    assert rule["sse_algorithm"] == "aws:kms" and rule["kms_master_key_id"] == "${var.kms_key_arn}"


def test_no_ssh_anywhere_and_every_host_has_session_logging(tf_tree):
    # Session Manager replaces SSH: no key pair, no rule for port 22, and each root hands every
    # instance to the security baseline (CloudWatch agent, alarms, session logging)
    assert not list(resources(tf_tree, "aws_key_pair"))
    assert all("key_name" not in body for _p, _t, _n, body in resources(tf_tree, "aws_instance"))
    rules = [b for t in ("aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule")
             for _p, _t, _n, b in resources(tf_tree, t)]
    assert rules and not [r for r in rules if r.get("from_port") == 22 or r.get("to_port") == 22]
    instances = {p.parent.name for p, _t, _n, _b in resources(tf_tree, "aws_instance")}
    for root, expected in (("site", {"xnat", "container_service", "nvflare_client"}), ("central", {"nvflare_server"})):
        [main] = [d for p, d in tf_tree.items() if p == TF_DIR / "examples" / root / "main.tf"]
        modules = {name: body for name, body in iter_blocks(main, "module")}
        hosts = str(modules["security_baseline"]["hosts"])
        assert expected <= instances and all(f"module.{m}.role_name" in hosts for m in expected), (root, hosts)


def test_user_data_templates_hold_no_secret():
    templates = sorted(TF_DIR.rglob("*.tftpl"))
    assert len(templates) == 4
    for path in templates:
        text = path.read_text()
        assert "PRIVATE KEY-----" not in text, path
        assert not re.search(r"(?i)(password|secret_key|client\.key)\s*=\s*\$\{", text), path


def test_checkov_skips_carry_a_reason():
    skips = []
    for path in TF_DIR.rglob("*.tf"):
        for line in path.read_text().splitlines():
            if "checkov" in line.lower():
                match = SKIP_COMMENT.search(line)
                assert match, f"{path}: malformed checkov comment: {line.strip()}"
                reason = (match["reason"] or "").strip()
                assert len(reason) >= 40, f"{path}: {match['id']} needs a written reason"
                skips.append(match["id"])
    assert skips, "expected the documented skips on the log buckets and boot-time secrets"


def test_module_readmes_document_every_input():
    missing = []
    for module in MODULES:
        folder = TF_DIR / "modules" / module
        readme = (folder / "README.md").read_text()
        for name, _body in iter_blocks(load_hcl(folder / "variables.tf"), "variable"):
            if f"`{name}`" not in readme:
                missing.append(f"{module}: {name}")
    assert not missing, missing


# ---------------------------------------------------------------- the rules themselves can fail
def test_rules_catch_a_bad_configuration(tmp_path):
    bad = tmp_path / "bad.tf"
    bad.write_text(CANARY)
    tree = {bad: load_hcl(bad)}
    assert open_ingress(tree) == ["bad.tf:aws_security_group.open", "bad.tf:aws_vpc_security_group_ingress_rule.open6"]
    [problem] = unsafe_instances(tree)
    assert "IMDSv1 allowed" in problem and "root volume not encrypted" in problem and "public IP" in problem


# ---------------------------------------------------------------- the README an admin follows
def _readme_variables(text: str) -> set[str]:
    """Root variables terraform/README.md tells the admin to set: the 'variable' column of its
    tables, `name = value` in backticks, and -var name=... / name = ... lines of code blocks."""
    names: set[str] = set()
    for row in re.findall(r"^\|[^|\n]*\|([^|\n]*)\|", text, flags=re.M):
        names.update(re.findall(r"`([a-z][a-z0-9_]*)`", row))
    names.update(re.findall(r"`([a-z][a-z0-9_]*) = [^`]+`", text))
    for block in re.findall(r"```.*?\n(.*?)```", text, flags=re.S):
        names.update(re.findall(r"-var[ =]'?([a-z][a-z0-9_]*)=", block))
        names.update(re.findall(r"^([a-z][a-z0-9_]*)\s+=\s", block, flags=re.M))  # top level, not object keys
    return names


def test_readme_names_only_root_variables_that_exist(tf_tree):
    text = (TF_DIR / "README.md").read_text()
    declared = {
        name
        for root in ROOTS
        for doc in _files(tf_tree, TF_DIR / "examples" / root).values()
        for name, _body in iter_blocks(doc, "variable")
    }
    # the provider block of the offline override and the backend setting are not root variables
    not_variables = {"module", "variable", "name", "use_lockfile", "access_key", "secret_key", "skip_credentials_validation",
                     "skip_requesting_account_id", "skip_metadata_api_check", "skip_region_validation", "path"}
    named = _readme_variables(text) - not_variables
    assert {"host_internet_egress", "onprem_sites", "certificate_arn"} <= named, sorted(named)
    assert named - declared == set(), f"README names variables no root has: {sorted(named - declared)}"
    assert _readme_variables("| a | `db_multi_az` | x |\n") == {"db_multi_az"}  # the check can fail
