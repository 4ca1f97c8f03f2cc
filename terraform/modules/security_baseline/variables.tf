variable "access_log_bucket" {
  description = "Bucket that receives the S3 server access logs of the audit bucket (the log bucket of the dicom_bucket module)."
  type        = string
}

variable "account_id" {
  description = "AWS account ID (12 digits); passed in so that plans run without AWS API calls."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be a 12-digit AWS account ID."
  }
}

variable "alert_emails" {
  description = "E-mail addresses subscribed to the alert topic (alarms and budget); each must confirm the subscription mail from AWS."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$", e))])
    error_message = "alert_emails must be e-mail addresses."
  }
}

variable "audit_bucket_name" {
  description = "Name of the S3 bucket for CloudTrail and AWS Config (object lock, KMS, TLS only)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.audit_bucket_name))
    error_message = "audit_bucket_name must be a valid S3 bucket name."
  }
}

variable "data_event_bucket_arns" {
  description = "Buckets whose object reads and writes CloudTrail records as data events (the study's data and artifact buckets)."
  type        = list(string)
  default     = []
}

variable "enable_cloudtrail" {
  description = "Create a multi-region CloudTrail trail with log file validation, KMS and CloudWatch Logs. Set false only when an organization trail already covers the account."
  type        = bool
  default     = true
}

variable "enable_config" {
  description = "Create the AWS Config recorder, delivery channel and the study's managed rules. Set false when the account already has a recorder (one per region)."
  type        = bool
  default     = true
}

variable "enable_guardduty" {
  description = "Create a GuardDuty detector. Set false when the organization's delegated administrator already enables GuardDuty here (one detector per region)."
  type        = bool
  default     = true
}

variable "fl_heartbeat_sites" {
  description = "NVFlare site names whose client publishes the SarcomaXnat/FLClientHeartbeat metric; each gets an alarm that fires when the heartbeat stops."
  type        = list(string)
  default     = []
}

variable "hosts" {
  description = "Instances to watch, by a fixed key (xnat, docker, nvflare...): id and IAM role name. Each gets the CloudWatch agent, CPU and disk alarms, and session-logging permissions."
  type = map(object({
    instance_id = string
    role_name   = string
  }))
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the trail, session and host logs (and the object-lock retention of the audit bucket)."
  type        = number
  default     = 365

  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch retention value of at least one year."
  }
}

variable "manage_session_preferences" {
  description = "Own the account's Session Manager preferences document (SSM-SessionManagerRunShell) so every session is logged, encrypted and times out; set false when it already exists and is managed elsewhere."
  type        = bool
  default     = true
}

variable "monthly_budget_usd" {
  description = "Monthly cost budget of the account in USD; alerts at 80 % of actual and 100 % of forecast spend."
  type        = number

  validation {
    condition     = var.monthly_budget_usd > 0
    error_message = "monthly_budget_usd must be positive."
  }
}

variable "name" {
  description = "Name prefix of every resource."
  type        = string
}

variable "region" {
  description = "AWS region of the resources, e.g. eu-west-2."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "xnat_health" {
  description = "ARN suffixes of the XNAT load balancer and target group; an alarm fires when no XNAT target passes the health check. Null outside a site."
  type = object({
    load_balancer = string
    target_group  = string
  })
  default = null
}
