variable "account_id" {
  description = "AWS account ID that owns the key (12 digits). Passed in rather than looked up so that plans run without AWS API calls."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be a 12-digit AWS account ID."
  }
}

variable "allow_cloudwatch_logs" {
  description = "Let CloudWatch Logs in this region use the key for log groups of this account (flow logs, WAF and RDS logs)."
  type        = bool
  default     = false
}

variable "deletion_window_in_days" {
  description = "Days a scheduled key deletion waits before the key (and every object it encrypts) is gone for good."
  type        = number
  default     = 30

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30
    error_message = "deletion_window_in_days must be between 7 and 30 (the AWS limits)."
  }
}

variable "description" {
  description = "Human-readable description of what the key protects."
  type        = string
}

variable "name" {
  description = "Key name; the alias becomes alias/<name>."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9/_-]{1,200}$", var.name)) && !startswith(var.name, "aws/")
    error_message = "name may contain letters, digits, '/', '_' and '-' and must not start with 'aws/' (reserved by AWS)."
  }
}

variable "region" {
  description = "AWS region of the key (used in the CloudWatch Logs service principal and encryption context)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must look like eu-west-2."
  }
}

variable "tags" {
  description = "Tags added to the key."
  type        = map(string)
  default     = {}
}
