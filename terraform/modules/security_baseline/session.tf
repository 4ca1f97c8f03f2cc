# SSM Session Manager instead of SSH: no host has a key pair or port 22; every session is
# encrypted with the audit key, logged to CloudWatch Logs and ends after 20 idle minutes.
# The document name SSM-SessionManagerRunShell is the one Session Manager reads its account
# preferences from (AWS Systems Manager documentation, "Session Manager preferences").

resource "aws_cloudwatch_log_group" "sessions" {
  name              = "/sarcoma-xnat/${var.name}/ssm-sessions"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.audit.arn
  tags              = var.tags
}

resource "aws_ssm_document" "session_preferences" {
  count           = var.manage_session_preferences ? 1 : 0
  name            = "SSM-SessionManagerRunShell"
  document_type   = "Session"
  document_format = "JSON"
  content = jsonencode({
    schemaVersion = "1.0"
    description   = "sarcoma-xnat ${var.name}: logged, encrypted sessions"
    sessionType   = "Standard_Stream"
    inputs = {
      kmsKeyId                    = aws_kms_key.audit.arn
      cloudWatchLogGroupName      = aws_cloudwatch_log_group.sessions.name
      cloudWatchEncryptionEnabled = true
      cloudWatchStreamingEnabled  = true
      s3BucketName                = ""
      s3EncryptionEnabled         = true
      idleSessionTimeout          = "20"
      maxSessionDuration          = "240"
      runAsEnabled                = false
      shellProfile                = { linux = "cd ~ && exec bash -l", windows = "" }
    }
  })
  tags = var.tags
}

# what each host's role needs so that its sessions can be encrypted and logged
resource "aws_iam_policy" "session_logging" {
  name        = "${var.name}-ssm-session-logging"
  description = "Session Manager on sarcoma-xnat hosts: session encryption with the audit key and session logs"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "SessionKey"
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource = [aws_kms_key.audit.arn]
      },
      {
        Sid      = "SessionLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
        Resource = ["${aws_cloudwatch_log_group.sessions.arn}:*", "${aws_cloudwatch_log_group.hosts.arn}:*"]
      },
      {
        Sid      = "FindLogGroups"
        Effect   = "Allow"
        Action   = ["logs:DescribeLogGroups"]
        Resource = ["arn:${local.partition}:logs:${var.region}:${var.account_id}:log-group:*"]
      },
    ]
  })
  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "session_logging" {
  for_each   = var.hosts
  role       = each.value.role_name
  policy_arn = aws_iam_policy.session_logging.arn
}
