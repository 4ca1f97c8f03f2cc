# CloudWatch agent on every host (installed and configured by an SSM State Manager association,
# so it follows host replacement), alarms for CPU, disk, the XNAT health check and the NVFlare
# client heartbeat, and a monthly budget; all alerts go to one KMS-encrypted SNS topic.

locals {
  agent_config = jsonencode({
    agent = { metrics_collection_interval = 60 }
    metrics = {
      namespace         = "CWAgent"
      append_dimensions = { InstanceId = "$${aws:InstanceId}" }
      # one series per instance: the disk alarm below names only the InstanceId dimension
      aggregation_dimensions = [["InstanceId"]]
      metrics_collected = {
        disk = { measurement = ["used_percent"], resources = ["/"], drop_device = true }
        mem  = { measurement = ["mem_used_percent"] }
      }
    }
    logs = {
      logs_collected = {
        files = {
          collect_list = [for f in ["sarcoma-xnat-bootstrap", "sarcoma-docker-bootstrap", "sarcoma-fl-bootstrap"] : {
            file_path       = "/var/log/${f}.log"
            log_group_name  = aws_cloudwatch_log_group.hosts.name
            log_stream_name = "{instance_id}/${f}"
          }]
        }
      }
    }
  })
}

resource "aws_cloudwatch_log_group" "hosts" {
  name              = "/sarcoma-xnat/${var.name}/hosts"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.audit.arn
  tags              = var.tags
}

# ------------------------------------------------------------------ alert topic
resource "aws_sns_topic" "alerts" {
  name              = "${var.name}-alerts"
  kms_master_key_id = aws_kms_key.audit.arn
  tags              = var.tags
}

resource "aws_sns_topic_policy" "alerts" {
  arn = aws_sns_topic.alerts.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountPublishes"
        Effect    = "Allow"
        Principal = { AWS = local.root_arn }
        Action    = ["sns:Publish", "sns:Subscribe", "sns:GetTopicAttributes"]
        Resource  = aws_sns_topic.alerts.arn
      },
      {
        Sid       = "AlarmsAndBudgetsPublish"
        Effect    = "Allow"
        Principal = { Service = ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"] }
        Action    = "sns:Publish"
        Resource  = aws_sns_topic.alerts.arn
        Condition = { StringEquals = { "aws:SourceAccount" = var.account_id } }
      },
    ]
  })
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.alert_emails)
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = each.value
}

# ------------------------------------------------------------------ CloudWatch agent
resource "aws_iam_role_policy_attachment" "agent" {
  for_each   = var.hosts
  role       = each.value.role_name
  policy_arn = "arn:${local.partition}:iam::aws:policy/CloudWatchAgentServerPolicy"
}

resource "aws_ssm_association" "agent" {
  name             = "AWS-RunShellScript"
  association_name = "${var.name}-cloudwatch-agent"
  # re-applied every day and whenever the configuration changes
  schedule_expression = "rate(1 day)"
  parameters = {
    commands = join("\n", [
      "set -e",
      "command -v amazon-cloudwatch-agent-ctl || dnf install -y -q amazon-cloudwatch-agent",
      "cat > /opt/aws/amazon-cloudwatch-agent/etc/sarcoma-xnat.json <<'JSON'",
      local.agent_config,
      "JSON",
      "/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:/opt/aws/amazon-cloudwatch-agent/etc/sarcoma-xnat.json",
    ])
  }
  targets {
    key    = "InstanceIds"
    values = [for h in values(var.hosts) : h.instance_id]
  }
}

# ------------------------------------------------------------------ alarms
resource "aws_cloudwatch_metric_alarm" "cpu" {
  for_each            = var.hosts
  alarm_name          = "${var.name}-${each.key}-cpu-high"
  alarm_description   = "CPU of ${each.key} above 90 % for 15 minutes"
  namespace           = "AWS/EC2"
  metric_name         = "CPUUtilization"
  dimensions          = { InstanceId = each.value.instance_id }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  threshold           = 90
  comparison_operator = "GreaterThanThreshold"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "disk" {
  for_each            = var.hosts
  alarm_name          = "${var.name}-${each.key}-disk-full"
  alarm_description   = "Root volume of ${each.key} more than 85 % full (CloudWatch agent)"
  namespace           = "CWAgent"
  metric_name         = "disk_used_percent"
  dimensions          = { InstanceId = each.value.instance_id }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  threshold           = 85
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "missing"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "xnat_health" {
  count               = var.xnat_health == null ? 0 : 1
  alarm_name          = "${var.name}-xnat-unhealthy"
  alarm_description   = "No XNAT target passes the load balancer's health check for 5 minutes"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HealthyHostCount"
  dimensions          = { LoadBalancer = var.xnat_health.load_balancer, TargetGroup = var.xnat_health.target_group }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 5
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "fl_heartbeat" {
  for_each            = toset(var.fl_heartbeat_sites)
  alarm_name          = "${var.name}-fl-client-${each.key}-silent"
  alarm_description   = "The NVFlare client of ${each.key} sent no heartbeat for 15 minutes (service down or host unreachable)"
  namespace           = "SarcomaXnat"
  metric_name         = "FLClientHeartbeat"
  dimensions          = { Site = each.key }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 3
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = var.tags
}

# ------------------------------------------------------------------ budget
resource "aws_budgets_budget" "monthly" {
  name         = "${var.name}-monthly"
  budget_type  = "COST"
  limit_amount = tostring(var.monthly_budget_usd)
  limit_unit   = "USD"
  time_unit    = "MONTHLY"

  notification {
    comparison_operator        = "GREATER_THAN"
    threshold                  = 80
    threshold_type             = "PERCENTAGE"
    notification_type          = "ACTUAL"
    subscriber_sns_topic_arns  = [aws_sns_topic.alerts.arn]
    subscriber_email_addresses = var.alert_emails
  }

  notification {
    comparison_operator        = "GREATER_THAN"
    threshold                  = 100
    threshold_type             = "PERCENTAGE"
    notification_type          = "FORECASTED"
    subscriber_sns_topic_arns  = [aws_sns_topic.alerts.arn]
    subscriber_email_addresses = var.alert_emails
  }
}
