variable "alb_log_delivery_account_id" {
  description = "AWS account of Elastic Load Balancing in this region that writes ALB access logs (see the ELB access-log docs); null for regions that use the log-delivery service principal, or when no load balancer logs here."
  type        = string
  default     = null

  validation {
    condition     = var.alb_log_delivery_account_id == null || can(regex("^[0-9]{12}$", var.alb_log_delivery_account_id))
    error_message = "alb_log_delivery_account_id must be a 12-digit account ID or null."
  }
}

variable "account_id" {
  description = "AWS account ID that owns the buckets (12 digits)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be a 12-digit AWS account ID."
  }
}

variable "bucket_name" {
  description = "Name of the private data bucket (globally unique). The access-log bucket is <bucket_name>-logs."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,56}[a-z0-9]$", var.bucket_name)) && !can(regex("\\.\\.|^xn--|^[0-9.]+$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name of at most 58 characters (room for the -logs suffix)."
  }
}

variable "kms_key_arn" {
  description = "ARN of the KMS key that encrypts every object of the data bucket."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "log_retention_days" {
  description = "Days to keep access logs in the log bucket."
  type        = number
  default     = 365

  validation {
    condition     = var.log_retention_days >= 90
    error_message = "Keep access logs at least 90 days."
  }
}

variable "noncurrent_version_retention_days" {
  description = "Days to keep overwritten or deleted object versions in the data bucket before they expire."
  type        = number
  default     = 90

  validation {
    condition     = var.noncurrent_version_retention_days >= 7
    error_message = "Keep noncurrent versions at least 7 days so that an overwrite can be undone."
  }
}

variable "tags" {
  description = "Tags added to both buckets."
  type        = map(string)
  default     = {}
}
