# One customer-managed KMS key with yearly rotation and an explicit key policy.
# The account root statement delegates use of the key to IAM policies, so each role gets
# kms:Decrypt/GenerateDataKey on this key ARN only where it needs it.

locals {
  partition = startswith(var.region, "us-gov-") ? "aws-us-gov" : "aws"
  root_arn  = "arn:${local.partition}:iam::${var.account_id}:root"

  account_statement = {
    Sid       = "AccountAdministersKeyThroughIam"
    Effect    = "Allow"
    Principal = { AWS = local.root_arn }
    Action    = "kms:*"
    Resource  = "*"
  }

  logs_statement = {
    Sid       = "CloudWatchLogsOfThisAccount"
    Effect    = "Allow"
    Principal = { Service = "logs.${var.region}.amazonaws.com" }
    Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    Resource  = "*"
    Condition = {
      ArnLike = {
        "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${var.region}:${var.account_id}:log-group:*"
      }
    }
  }
}

resource "aws_kms_key" "this" {
  description             = var.description
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = var.deletion_window_in_days
  is_enabled              = true

  policy = var.allow_cloudwatch_logs ? jsonencode({
    Version   = "2012-10-17"
    Statement = [local.account_statement, local.logs_statement]
    }) : jsonencode({
    Version   = "2012-10-17"
    Statement = [local.account_statement]
  })

  tags = merge(var.tags, { Name = var.name })
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}
