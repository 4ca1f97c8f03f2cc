output "alert_topic_arn" {
  description = "SNS topic of every alarm and budget alert (subscribe on-call addresses or a chat integration)."
  value       = aws_sns_topic.alerts.arn
}

output "audit_bucket_id" {
  description = "Bucket holding CloudTrail (cloudtrail/) and AWS Config (config/) files; object lock in governance mode."
  value       = aws_s3_bucket.audit.id
}

output "audit_key_arn" {
  description = "KMS key of the trail, Config, session and host logs and the alert topic."
  value       = aws_kms_key.audit.arn
}

output "alarm_names" {
  description = "Names of the CloudWatch alarms, by kind (cpu, disk, xnat_health, fl_heartbeat)."
  value = {
    cpu          = [for a in aws_cloudwatch_metric_alarm.cpu : a.alarm_name]
    disk         = [for a in aws_cloudwatch_metric_alarm.disk : a.alarm_name]
    xnat_health  = [for a in aws_cloudwatch_metric_alarm.xnat_health : a.alarm_name]
    fl_heartbeat = [for a in aws_cloudwatch_metric_alarm.fl_heartbeat : a.alarm_name]
  }
}

output "session_log_group" {
  description = "CloudWatch log group of every Session Manager session."
  value       = aws_cloudwatch_log_group.sessions.name
}

output "trail_arn" {
  description = "ARN of the multi-region trail (null when enable_cloudtrail is false)."
  value       = var.enable_cloudtrail ? aws_cloudtrail.audit[0].arn : null
}

output "controls" {
  description = "What the baseline switched on, read back from its resources (for reviews and tests)."
  value = {
    trail = var.enable_cloudtrail ? {
      multi_region        = aws_cloudtrail.audit[0].is_multi_region_trail
      log_file_validation = aws_cloudtrail.audit[0].enable_log_file_validation
      kms_key_id          = aws_cloudtrail.audit[0].kms_key_id
      cloudwatch_logs     = aws_cloudtrail.audit[0].cloud_watch_logs_group_arn
    } : null
    guardduty        = var.enable_guardduty ? aws_guardduty_detector.this[0].enable : false
    config_recording = var.enable_config ? aws_config_configuration_recorder_status.this[0].is_enabled : false
    config_rules     = sort([for r in aws_config_config_rule.this : r.source[0].source_identifier])
    session_logging  = var.manage_session_preferences ? jsondecode(aws_ssm_document.session_preferences[0].content).inputs : null
    agent_targets    = aws_ssm_association.agent.targets[0].values
    budget = {
      limit         = aws_budgets_budget.monthly.limit_amount
      notifications = [for n in aws_budgets_budget.monthly.notification : "${n.notification_type}:${n.threshold}"]
    }
    audit_bucket_object_lock = aws_s3_bucket_object_lock_configuration.audit.rule[0].default_retention[0].mode
  }
}
