# The account's security baseline for a study site or the study lead: an audit key, an audit
# bucket (object lock, KMS, TLS only), a multi-region CloudTrail trail with log file validation,
# GuardDuty, AWS Config with the study's rules (detect.tf), CloudWatch agent, alarms and a budget
# (monitoring.tf), and Session Manager with logged sessions instead of SSH (session.tf).

locals {
  partition  = startswith(var.region, "us-gov-") ? "aws-us-gov" : (startswith(var.region, "cn-") ? "aws-cn" : "aws")
  root_arn   = "arn:${local.partition}:iam::${var.account_id}:root"
  trail_arn  = "arn:${local.partition}:cloudtrail:${var.region}:${var.account_id}:trail/${var.name}-audit"
  log_groups = "arn:${local.partition}:logs:${var.region}:${var.account_id}:log-group:*"
}

# ------------------------------------------------------------------ audit key
resource "aws_kms_key" "audit" {
  description             = "sarcoma-xnat ${var.name}: CloudTrail, Config, session and host logs, alert topic"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30
  is_enabled              = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministersKeyThroughIam"
        Effect    = "Allow"
        Principal = { AWS = local.root_arn }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudTrailEncryptsThisAccountsTrails"
        Effect    = "Allow"
        Principal = { Service = "cloudtrail.amazonaws.com" }
        Action    = ["kms:GenerateDataKey*", "kms:DescribeKey"]
        Resource  = "*"
        Condition = {
          StringLike   = { "kms:EncryptionContext:aws:cloudtrail:arn" = "arn:${local.partition}:cloudtrail:*:${var.account_id}:trail/*" }
          StringEquals = { "aws:SourceAccount" = var.account_id }
        }
      },
      {
        Sid       = "CloudWatchLogsOfThisAccount"
        Effect    = "Allow"
        Principal = { Service = "logs.${var.region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = { ArnLike = { "kms:EncryptionContext:aws:logs:arn" = local.log_groups } }
      },
      {
        # alarms, budgets and Config publish to / deliver into KMS-encrypted targets
        Sid       = "AlarmsBudgetsAndConfigUseTheKey"
        Effect    = "Allow"
        Principal = { Service = ["cloudwatch.amazonaws.com", "budgets.amazonaws.com", "config.amazonaws.com"] }
        Action    = ["kms:GenerateDataKey*", "kms:Decrypt"]
        Resource  = "*"
        Condition = { StringEquals = { "aws:SourceAccount" = var.account_id } }
      },
    ]
  })
  tags = merge(var.tags, { Name = "${var.name}-audit" })
}

resource "aws_kms_alias" "audit" {
  name          = "alias/${var.name}-audit"
  target_key_id = aws_kms_key.audit.key_id
}

# ------------------------------------------------------------------ audit bucket
resource "aws_s3_bucket" "audit" {
  #checkov:skip=CKV_AWS_144:Audit logs stay in the account's home region (data-residency agreement); CloudTrail itself records every region into this one bucket.
  bucket              = var.audit_bucket_name
  object_lock_enabled = true
  tags                = merge(var.tags, { Name = var.audit_bucket_name })
}

resource "aws_s3_bucket_object_lock_configuration" "audit" {
  bucket = aws_s3_bucket.audit.id
  rule {
    default_retention {
      mode = "GOVERNANCE"
      days = var.log_retention_days
    }
  }
}

resource "aws_s3_bucket_public_access_block" "audit" {
  bucket                  = aws_s3_bucket.audit.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "audit" {
  bucket = aws_s3_bucket.audit.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "audit" {
  bucket = aws_s3_bucket.audit.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.audit.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_versioning" "audit" {
  bucket = aws_s3_bucket.audit.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_logging" "audit" {
  bucket        = aws_s3_bucket.audit.id
  target_bucket = var.access_log_bucket
  target_prefix = "s3/${var.audit_bucket_name}/"
}

resource "aws_s3_bucket_lifecycle_configuration" "audit" {
  bucket = aws_s3_bucket.audit.id
  rule {
    id     = "expire-after-retention"
    status = "Enabled"
    filter {}
    expiration {
      days = var.log_retention_days + 1
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
  depends_on = [aws_s3_bucket_versioning.audit]
}

resource "aws_s3_bucket_notification" "audit" {
  bucket      = aws_s3_bucket.audit.id
  eventbridge = true
}

resource "aws_s3_bucket_policy" "audit" {
  bucket = aws_s3_bucket.audit.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.audit.arn, "${aws_s3_bucket.audit.arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
      {
        Sid       = "TrailAndConfigReadAcl"
        Effect    = "Allow"
        Principal = { Service = ["cloudtrail.amazonaws.com", "config.amazonaws.com"] }
        Action    = ["s3:GetBucketAcl", "s3:ListBucket"]
        Resource  = aws_s3_bucket.audit.arn
        Condition = { StringEquals = { "aws:SourceAccount" = var.account_id } }
      },
      {
        Sid       = "TrailAndConfigWrite"
        Effect    = "Allow"
        Principal = { Service = ["cloudtrail.amazonaws.com", "config.amazonaws.com"] }
        Action    = "s3:PutObject"
        Resource  = ["${aws_s3_bucket.audit.arn}/cloudtrail/AWSLogs/${var.account_id}/*", "${aws_s3_bucket.audit.arn}/config/AWSLogs/${var.account_id}/*"]
        Condition = { StringEquals = { "aws:SourceAccount" = var.account_id, "s3:x-amz-acl" = "bucket-owner-full-control" } }
      },
    ]
  })
  depends_on = [aws_s3_bucket_public_access_block.audit]
}

# ------------------------------------------------------------------ CloudTrail
resource "aws_cloudwatch_log_group" "trail" {
  count             = var.enable_cloudtrail ? 1 : 0
  name              = "/sarcoma-xnat/${var.name}/cloudtrail"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.audit.arn
  tags              = var.tags
}

resource "aws_iam_role" "trail" {
  count = var.enable_cloudtrail ? 1 : 0
  name  = "${var.name}-cloudtrail-logs"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "cloudtrail.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "trail" {
  count = var.enable_cloudtrail ? 1 : 0
  name  = "write-trail-logs"
  role  = aws_iam_role.trail[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = ["${aws_cloudwatch_log_group.trail[0].arn}:*"]
    }]
  })
}

resource "aws_sns_topic" "trail" {
  count             = var.enable_cloudtrail ? 1 : 0
  name              = "${var.name}-cloudtrail-delivery"
  kms_master_key_id = aws_kms_key.audit.arn
  tags              = var.tags
}

resource "aws_sns_topic_policy" "trail" {
  count = var.enable_cloudtrail ? 1 : 0
  arn   = aws_sns_topic.trail[0].arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "CloudTrailAnnouncesLogFiles"
      Effect    = "Allow"
      Principal = { Service = "cloudtrail.amazonaws.com" }
      Action    = "sns:Publish"
      Resource  = aws_sns_topic.trail[0].arn
      Condition = { StringEquals = { "aws:SourceArn" = local.trail_arn } }
    }]
  })
}

resource "aws_cloudtrail" "audit" {
  count                         = var.enable_cloudtrail ? 1 : 0
  name                          = "${var.name}-audit"
  s3_bucket_name                = aws_s3_bucket.audit.id
  s3_key_prefix                 = "cloudtrail"
  is_multi_region_trail         = true
  include_global_service_events = true
  enable_log_file_validation    = true
  enable_logging                = true
  kms_key_id                    = aws_kms_key.audit.arn
  sns_topic_name                = aws_sns_topic.trail[0].name
  cloud_watch_logs_group_arn    = "${aws_cloudwatch_log_group.trail[0].arn}:*"
  cloud_watch_logs_role_arn     = aws_iam_role.trail[0].arn

  event_selector {
    read_write_type           = "All"
    include_management_events = true
    # object-level access to the study's data is part of the audit trail (who read which export)
    dynamic "data_resource" {
      for_each = length(var.data_event_bucket_arns) > 0 ? [1] : []
      content {
        type   = "AWS::S3::Object"
        values = [for arn in var.data_event_bucket_arns : "${arn}/"]
      }
    }
  }

  tags       = var.tags
  depends_on = [aws_s3_bucket_policy.audit, aws_sns_topic_policy.trail]
}
