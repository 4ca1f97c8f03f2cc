"""checkov (own venv, offline) on the HCL of terraform/, with a must-fail canary."""
from __future__ import annotations

import pytest

from tfhelpers import CANARY, REPO, TF_DIR, checkov_json, run

pytestmark = pytest.mark.terraform

# checks that must have run and passed on our HCL (a typo or a dropped ID would go unnoticed
# with --check, which silently ignores unknown IDs)
KEY_CHECKS = {
    "CKV_AWS_79",  # IMDSv2 only
    "CKV_AWS_8",  # encrypted instance volumes
    "CKV_AWS_88",  # no public IP on instances
    "CKV_AWS_16", "CKV_AWS_17", "CKV_AWS_293", "CKV_AWS_133", "CKV2_AWS_69",  # RDS
    "CKV_AWS_2", "CKV_AWS_103", "CKV_AWS_131",  # ALB HTTPS, TLS 1.2+, drop invalid headers
    "CKV_AWS_42", "CKV_AWS_184",  # EFS encryption with a CMK
    "CKV2_AWS_6", "CKV_AWS_21", "CKV_AWS_145",  # S3 public access block, versioning, KMS
    "CKV_AWS_7",  # KMS rotation
    "CKV2_AWS_11", "CKV2_AWS_12",  # flow logs, default SG closed
    "CKV_AWS_24", "CKV_AWS_260", "CKV_AWS_382",  # no open SSH/HTTP ingress, no open egress
    "CKV_AWS_23",  # every rule described
    "CKV_AWS_67", "CKV_AWS_36", "CKV_AWS_35", "CKV_AWS_252", "CKV2_AWS_10",  # CloudTrail: all regions, validation, KMS, SNS, CloudWatch
    "CKV2_AWS_45", "CKV2_AWS_48",  # AWS Config records every supported resource
    "CKV_AWS_26",  # SNS topics encrypted
}

# skips allowed in the code, each with its reason written next to it in the HCL
# CKV2_AWS_38/39 (DNSSEC, query logging): public-zone features, skipped on the private zone only
# CKV2_AWS_3 (GuardDuty organization configuration): only the org's delegated administrator can set it
ALLOWED_SKIPS = {"CKV_AWS_18", "CKV_AWS_143", "CKV_AWS_144", "CKV_AWS_145", "CKV2_AWS_3", "CKV2_AWS_38", "CKV2_AWS_39",
                 "CKV2_AWS_57"}


def _scan(checkov, target_args, cwd):
    proc = run([str(checkov), *target_args, "--skip-download", "-o", "json"], cwd)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    return proc, checkov_json(proc)


def test_checkov_passes_on_hcl_with_reasoned_skips(checkov):
    proc, report = _scan(checkov, ["-d", str(TF_DIR), "--framework", "terraform"], REPO)
    summary = report["summary"]
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert failed == [], failed
    assert proc.returncode == 0
    assert summary["parsing_errors"] == 0
    assert summary["passed"] >= 300, summary
    passed_ids = {c["check_id"] for c in report["results"]["passed_checks"]}
    assert KEY_CHECKS <= passed_ids, f"key checks that did not run: {sorted(KEY_CHECKS - passed_ids)}"
    skipped = report["results"]["skipped_checks"]
    assert {c["check_id"] for c in skipped} <= ALLOWED_SKIPS
    assert all(len((c["check_result"].get("suppress_comment") or "").strip()) >= 40 for c in skipped)


def test_checkov_fails_the_canary(checkov, tmp_path):
    (tmp_path / "bad.tf").write_text(CANARY + 'resource "aws_db_instance" "db" {\n  publicly_accessible = true\n}\n')
    proc, report = _scan(checkov, ["-d", str(tmp_path), "--framework", "terraform"], tmp_path)
    failed = {c["check_id"] for c in report["results"]["failed_checks"]}
    assert proc.returncode == 1
    assert {"CKV_AWS_79", "CKV_AWS_8", "CKV_AWS_24", "CKV_AWS_16", "CKV_AWS_17"} <= failed, failed
