variable "account_id" {
  description = "AWS account ID of the study lead (12 digits); the provider refuses any other account."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be a 12-digit AWS account ID."
  }
}

variable "artifact_bucket_name" {
  description = "Globally unique name of the central private bucket (server startup kit, wheels, global models)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,56}[a-z0-9]$", var.artifact_bucket_name))
    error_message = "artifact_bucket_name must be a valid S3 bucket name of at most 58 characters."
  }
}

variable "availability_zones" {
  description = "Two availability zones of the region."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) == 2 && alltrue([for az in var.availability_zones : can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9][a-z]$", az))])
    error_message = "Give exactly two availability zone names such as eu-west-2a."
  }
}

variable "fl_ports" {
  description = "TCP port(s) the FL server listens on: [8002] for NVFlare 2.7+, [8002, 8003] for a separate admin port."
  type        = list(number)
  default     = [8002]

  validation {
    condition     = length(var.fl_ports) > 0 && alltrue([for p in var.fl_ports : p >= 1024 && p <= 65535])
    error_message = "fl_ports must be unprivileged TCP ports."
  }
}

variable "name" {
  description = "Short name used as prefix of every resource."
  type        = string
  default     = "sarcoma-fl"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,13}$", var.name))
    error_message = "name must be 2-14 lowercase letters, digits or '-', starting with a letter."
  }
}

variable "nvflare_ami_id" {
  description = "AMI of the FL server, ideally with sarcoma-xnat[fl] baked in (its subnet has no internet)."
  type        = string

  validation {
    condition     = can(regex("^ami-[0-9a-f]{8,17}$", var.nvflare_ami_id))
    error_message = "nvflare_ami_id must look like ami-0123456789abcdef0."
  }
}

variable "region" {
  description = "AWS region of the FL server and the Transit Gateway."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must look like eu-west-2."
  }
}

variable "server_fqdn" {
  description = "FL server name in project.yml (CN of its certificate); the sites map it to server_private_ip."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$", var.server_fqdn))
    error_message = "server_fqdn must be a fully qualified lowercase host name."
  }
}

variable "server_instance_type" {
  description = "Instance type of the FL server."
  type        = string
  default     = "m6i.large"
}

variable "server_host_number" {
  description = "Host number of the FL server inside the first FL subnet (its fixed private IP is cidrhost(subnet, n)); AWS reserves the first four and the last address."
  type        = number
  default     = 10

  validation {
    condition     = var.server_host_number >= 4 && var.server_host_number <= 250 && floor(var.server_host_number) == var.server_host_number
    error_message = "server_host_number must be a whole number between 4 and 250."
  }
}

variable "site_account_ids" {
  description = "AWS accounts of the participating sites; the Transit Gateway is shared with them through AWS RAM."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.site_account_ids : can(regex("^[0-9]{12}$", a))])
    error_message = "site_account_ids must be 12-digit account IDs."
  }
}

variable "site_attachment_ids" {
  description = "Transit Gateway attachment IDs the sites reported (output transit_gateway_attachment_id of their root); each is accepted here. Empty on the first apply."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.site_attachment_ids : can(regex("^tgw-attach-[0-9a-f]{8,17}$", a))])
    error_message = "site_attachment_ids must look like tgw-attach-0123456789abcdef0."
  }
}

variable "site_fl_cidrs" {
  description = "FL subnets of the sites (their output fl_subnet_cidrs): the only sources allowed to reach the FL ports."
  type        = list(string)

  validation {
    condition = length(var.site_fl_cidrs) > 0 && alltrue([
      for c in var.site_fl_cidrs : can(cidrhost(c, 0)) && tonumber(split("/", c)[1]) >= 16
    ])
    error_message = "site_fl_cidrs must be IPv4 CIDRs of /16 or smaller (never 0.0.0.0/0)."
  }
}

variable "ram_allow_external_principals" {
  description = "Allow sharing the Transit Gateway with accounts outside this AWS Organization (sites in their own organisations)."
  type        = bool
  default     = false
}

variable "startup_kit_s3_key" {
  description = "Key of the zipped server startup kit in the artifact bucket (upload it with SSE-KMS before apply)."
  type        = string
  default     = "nvflare/server-startup-kit.zip"
}

variable "tags" {
  description = "Extra tags on every resource."
  type        = map(string)
  default     = {}
}

variable "vpc_cidr" {
  description = "CIDR of the central VPC (/20 to /24), unique across the study; split into two FL subnets."
  type        = string

  validation {
    condition = can(cidrhost(var.vpc_cidr, 0)) && (
      tonumber(split("/", var.vpc_cidr)[1]) >= 20 && tonumber(split("/", var.vpc_cidr)[1]) <= 24
    )
    error_message = "vpc_cidr must be an IPv4 CIDR between /20 and /24."
  }
}

variable "wheelhouse_prefix" {
  description = "Prefix in the artifact bucket with wheels of sarcoma-xnat[fl]; null when the AMI has it."
  type        = string
  default     = null
}

# ------------------------------------------------------------------ bring your own keys
variable "data_kms_key_arn" {
  description = "Existing customer-managed KMS key for data at rest (e.g. one managed by the organisation's security team); null creates one."
  type        = string
  default     = null

  validation {
    condition     = var.data_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.data_kms_key_arn))
    error_message = "data_kms_key_arn must be a KMS key ARN or null."
  }
}

variable "logs_kms_key_arn" {
  description = "Existing customer-managed KMS key for CloudWatch log groups (its policy must allow logs.<region>.amazonaws.com); null creates one."
  type        = string
  default     = null

  validation {
    condition     = var.logs_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.logs_kms_key_arn))
    error_message = "logs_kms_key_arn must be a KMS key ARN or null."
  }
}

variable "validation_archive_prefix" {
  description = "Prefix in the artifact bucket with the server's validation archive (curated sessions for the FedAvg validation gate)."
  type        = string
  default     = "validation/"
}

variable "validation_project" {
  description = "Project ID of the validation sessions inside that archive."
  type        = string
  default     = "VALIDATION"
}

# ------------------------------------------------------------------ security baseline
variable "admin_cidrs" {
  description = "Networks of the lead's NVFlare admin console that reach the server's admin port over the Transit Gateway (an on-prem VPN in onprem_sites). Leave empty to use SSM port forwarding only (policy output fl_admin_console_policy_arn)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.admin_cidrs : can(cidrnetmask(c)) && !contains(["0.0.0.0/0", "::/0"], c)])
    error_message = "admin_cidrs must be IPv4 CIDR blocks and never the whole internet."
  }
}

variable "alert_emails" {
  description = "E-mail addresses for alarms (CPU, disk, FL server) and budget alerts."
  type        = list(string)
  default     = []
}

variable "enable_cloudtrail" {
  description = "Create the multi-region CloudTrail trail (false when an organization trail already covers the account)."
  type        = bool
  default     = true
}

variable "enable_config" {
  description = "Create the AWS Config recorder and rules (false when the account already has a recorder in this region)."
  type        = bool
  default     = true
}

variable "enable_guardduty" {
  description = "Create the GuardDuty detector (false when the organization's delegated administrator enables it)."
  type        = bool
  default     = true
}

variable "monthly_budget_usd" {
  description = "Monthly cost budget of the central account in USD (alerts at 80 % actual, 100 % forecast)."
  type        = number
  default     = 400
}

variable "onprem_sites" {
  description = "Sites whose XNAT and NVFlare client run in their own data centre, joined by a Site-to-Site VPN to the Transit Gateway (spoke table): site name -> public IP and BGP ASN of its VPN device and the CIDR of its FL client network."
  type = map(object({
    public_ip = string
    bgp_asn   = number
    fl_cidr   = string
  }))
  default = {}

  validation {
    condition = alltrue([for s in values(var.onprem_sites) :
      can(cidrnetmask("${s.public_ip}/32")) && can(cidrnetmask(s.fl_cidr)) && s.fl_cidr != "0.0.0.0/0"
    ])
    error_message = "onprem_sites need a public IPv4 address and an FL client CIDR (never 0.0.0.0/0)."
  }
}
