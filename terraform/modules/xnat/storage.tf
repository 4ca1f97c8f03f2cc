# The XNAT archive on encrypted EFS (TLS-only mounts), backed up daily by AWS Backup.

resource "aws_efs_file_system" "archive" {
  encrypted        = true
  kms_key_id       = var.kms_key_arn
  performance_mode = "generalPurpose"
  throughput_mode  = "elastic"

  lifecycle_policy {
    transition_to_ia = "AFTER_30_DAYS"
  }
  lifecycle_policy {
    transition_to_primary_storage_class = "AFTER_1_ACCESS"
  }

  tags = merge(var.tags, { Name = "${var.name}-xnat-archive" })
}

resource "aws_efs_mount_target" "archive" {
  count           = length(var.data_subnet_ids)
  file_system_id  = aws_efs_file_system.archive.id
  subnet_id       = var.data_subnet_ids[count.index]
  security_groups = [aws_security_group.efs.id]
}

resource "aws_efs_file_system_policy" "archive" {
  file_system_id = aws_efs_file_system.archive.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyUnencryptedTransport"
      Effect    = "Deny"
      Principal = { AWS = "*" }
      Action    = "*"
      Resource  = aws_efs_file_system.archive.arn
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })
}

resource "aws_efs_backup_policy" "archive" {
  file_system_id = aws_efs_file_system.archive.id
  backup_policy {
    status = "ENABLED"
  }
}

# ------------------------------------------------------------------ AWS Backup
resource "aws_backup_vault" "this" {
  name        = "${var.name}-xnat"
  kms_key_arn = var.kms_key_arn
  tags        = var.tags
}

resource "aws_backup_plan" "this" {
  name = "${var.name}-xnat-daily"

  rule {
    rule_name         = "daily"
    target_vault_name = aws_backup_vault.this.name
    schedule          = "cron(0 3 * * ? *)"
    lifecycle {
      delete_after = var.backup_retention_days
    }
  }

  tags = var.tags
}

resource "aws_iam_role" "backup" {
  name = "${var.name}-xnat-backup"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "backup.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "backup" {
  for_each = toset([
    "arn:${local.partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
    "arn:${local.partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
  ])
  role       = aws_iam_role.backup.name
  policy_arn = each.value
}

resource "aws_backup_selection" "this" {
  name         = "${var.name}-xnat"
  plan_id      = aws_backup_plan.this.id
  iam_role_arn = aws_iam_role.backup.arn
  resources    = [aws_efs_file_system.archive.arn, aws_db_instance.xnat.arn]
}
