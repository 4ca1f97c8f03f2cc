# Threat detection and configuration compliance: a GuardDuty detector (with S3 and EBS malware
# protection features) and AWS Config recording every supported resource into the audit bucket,
# with managed rules for the controls the study relies on.

locals {
  # AWS Config managed rules (identifiers from the AWS Config managed rules list)
  config_rules = {
    "cloudtrail-enabled"                = "CLOUD_TRAIL_ENABLED"
    "cloudtrail-log-file-validation"    = "CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED"
    "ebs-encrypted-volumes"             = "ENCRYPTED_VOLUMES"
    "ec2-imdsv2"                        = "EC2_IMDSV2_CHECK"
    "ec2-no-public-ip"                  = "EC2_INSTANCE_NO_PUBLIC_IP"
    "ec2-managed-by-ssm"                = "EC2_INSTANCE_MANAGED_BY_SSM"
    "guardduty-enabled"                 = "GUARDDUTY_ENABLED_CENTRALIZED"
    "no-unrestricted-ssh"               = "INCOMING_SSH_DISABLED"
    "rds-storage-encrypted"             = "RDS_STORAGE_ENCRYPTED"
    "rds-not-public"                    = "RDS_INSTANCE_PUBLIC_ACCESS_CHECK"
    "s3-public-access-blocked"          = "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED"
    "s3-tls-only"                       = "S3_BUCKET_SSL_REQUESTS_ONLY"
    "s3-default-encryption-kms"         = "S3_DEFAULT_ENCRYPTION_KMS"
    "vpc-flow-logs-enabled"             = "VPC_FLOW_LOGS_ENABLED"
    "vpc-default-sg-closed"             = "VPC_DEFAULT_SECURITY_GROUP_CLOSED"
    "efs-encrypted"                     = "EFS_ENCRYPTED_CHECK"
    "cloudwatch-log-group-encrypted"    = "CLOUDWATCH_LOG_GROUP_ENCRYPTED"
    "secretsmanager-cmk"                = "SECRETSMANAGER_USING_CMK"
    "ec2-security-group-attached-to-en" = "EC2_SECURITY_GROUP_ATTACHED_TO_ENI"
  }
}

# ------------------------------------------------------------------ GuardDuty
resource "aws_guardduty_detector" "this" {
  #checkov:skip=CKV2_AWS_3:This check wants an aws_guardduty_organization_configuration, which only the organization's delegated GuardDuty administrator account can create; a site or lead account enables its own detector here (or sets enable_guardduty = false when the organization already does).
  count                        = var.enable_guardduty ? 1 : 0
  enable                       = true
  finding_publishing_frequency = "FIFTEEN_MINUTES"
  tags                         = var.tags
}

resource "aws_guardduty_detector_feature" "this" {
  for_each    = var.enable_guardduty ? toset(["S3_DATA_EVENTS", "EBS_MALWARE_PROTECTION", "RUNTIME_MONITORING"]) : toset([])
  detector_id = aws_guardduty_detector.this[0].id
  name        = each.key
  status      = "ENABLED"

  dynamic "additional_configuration" {
    # the GuardDuty agent on EC2 is installed and updated by GuardDuty through SSM
    for_each = each.key == "RUNTIME_MONITORING" ? ["EC2_AGENT_MANAGEMENT"] : []
    content {
      name   = additional_configuration.value
      status = "ENABLED"
    }
  }
}

# ------------------------------------------------------------------ AWS Config
resource "aws_iam_role" "config" {
  count = var.enable_config ? 1 : 0
  name  = "${var.name}-aws-config"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "config.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "config" {
  count      = var.enable_config ? 1 : 0
  role       = aws_iam_role.config[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWS_ConfigRole"
}

resource "aws_config_configuration_recorder" "this" {
  count    = var.enable_config ? 1 : 0
  name     = "${var.name}-recorder"
  role_arn = aws_iam_role.config[0].arn
  recording_group {
    all_supported                 = true
    include_global_resource_types = true
  }
}

resource "aws_config_delivery_channel" "this" {
  count          = var.enable_config ? 1 : 0
  name           = "${var.name}-delivery"
  s3_bucket_name = aws_s3_bucket.audit.id
  s3_key_prefix  = "config"
  s3_kms_key_arn = aws_kms_key.audit.arn
  snapshot_delivery_properties {
    delivery_frequency = "TwentyFour_Hours"
  }
  depends_on = [aws_config_configuration_recorder.this, aws_s3_bucket_policy.audit]
}

resource "aws_config_configuration_recorder_status" "this" {
  count      = var.enable_config ? 1 : 0
  name       = aws_config_configuration_recorder.this[0].name
  is_enabled = true
  depends_on = [aws_config_delivery_channel.this]
}

resource "aws_config_config_rule" "this" {
  for_each = var.enable_config ? local.config_rules : {}
  name     = "${var.name}-${each.key}"
  source {
    owner             = "AWS"
    source_identifier = each.value
  }
  tags       = var.tags
  depends_on = [aws_config_configuration_recorder_status.this]
}
