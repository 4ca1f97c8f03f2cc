# ------------------------------------------------------------------ account and placement
variable "account_id" {
  description = "AWS account ID of the site (12 digits); the provider refuses to run against any other account."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be a 12-digit AWS account ID."
  }
}

variable "availability_zones" {
  description = "Two availability zones of the region, e.g. [\"eu-west-2a\", \"eu-west-2b\"]."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) == 2 && alltrue([for az in var.availability_zones : can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9][a-z]$", az))])
    error_message = "Give exactly two availability zone names such as eu-west-2a."
  }
}

variable "name" {
  description = "Short name of the site, used as prefix of every resource (e.g. site-a)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,13}$", var.name))
    error_message = "name must be 2-14 lowercase letters, digits or '-', starting with a letter."
  }
}

variable "region" {
  description = "AWS region of the site."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must look like eu-west-2."
  }
}

variable "tags" {
  description = "Extra tags on every resource (cost centre, data owner...)."
  type        = map(string)
  default     = {}
}

variable "vpc_cidr" {
  description = "CIDR of the site VPC, /16 to /20, unique across the study (the Transit Gateway routes by it). It is cut into eight equal subnets: public, app, fl and data in two zones."
  type        = string

  validation {
    condition = can(cidrhost(var.vpc_cidr, 0)) && (
      tonumber(split("/", var.vpc_cidr)[1]) >= 16 && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    )
    error_message = "vpc_cidr must be an IPv4 CIDR between /16 and /20."
  }
}

# ------------------------------------------------------------------ XNAT
variable "admin_email" {
  description = "E-mail of the site's XNAT administrator."
  type        = string

  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.admin_email))
    error_message = "admin_email must be an e-mail address."
  }
}

variable "allowed_cidrs" {
  description = "Networks allowed to reach XNAT over HTTPS (hospital/university ranges; 0.0.0.0/0 is refused)."
  type        = list(string)

  validation {
    condition = length(var.allowed_cidrs) > 0 && alltrue([
      for c in var.allowed_cidrs : can(cidrhost(c, 0)) && tonumber(split("/", c)[1]) >= 8
    ])
    error_message = "allowed_cidrs must be IPv4 CIDRs no larger than /8 (never 0.0.0.0/0)."
  }
}

variable "certificate_arn" {
  description = "ACM certificate (same region) for the host name of site_url."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]{36}$", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN."
  }
}

variable "docker_host_ami_id" {
  description = "AMI of the Container Service Docker host (Amazon Linux 2023, or a GPU variant for auto-segmentation)."
  type        = string

  validation {
    condition     = can(regex("^ami-[0-9a-f]{8,17}$", var.docker_host_ami_id))
    error_message = "docker_host_ami_id must look like ami-0123456789abcdef0."
  }
}

variable "docker_host_instance_type" {
  description = "Instance type of the Docker host that runs the pipeline containers."
  type        = string
  default     = "m6i.2xlarge"
}

variable "site_url" {
  description = "Public HTTPS URL of the site's XNAT, e.g. https://xnat.site-a.example.org (its DNS name must point at the load balancer)."
  type        = string

  validation {
    condition     = can(regex("^https://[a-z0-9.-]+$", var.site_url))
    error_message = "site_url must be https://<host name> without a path or trailing slash."
  }
}

variable "suite_package" {
  description = "pip requirement or s3:// URI of the sarcoma-xnat wheel installed on the XNAT host."
  type        = string
  default     = "sarcoma-xnat"
}

variable "xnat_ami_id" {
  description = "AMI of the XNAT host (Amazon Linux 2023 x86_64)."
  type        = string

  validation {
    condition     = can(regex("^ami-[0-9a-f]{8,17}$", var.xnat_ami_id))
    error_message = "xnat_ami_id must look like ami-0123456789abcdef0."
  }
}

variable "xnat_instance_type" {
  description = "Instance type of the XNAT host."
  type        = string
  default     = "m6i.xlarge"
}

variable "step_images" {
  description = "Step images (ECR repository name as in xnat-commands/*.json -> pinned tag); one ECR repository each, pulled by the Docker host at boot."
  type        = map(string)
  default = {
    "sarcoma-xnat/deid"       = "0.1.0"
    "sarcoma-xnat/preprocess" = "0.1.0"
    "sarcoma-xnat/prognosis"  = "0.1.0"
  }
}

variable "xnat_admin_user" {
  description = "Login of the named XNAT administrator that replaces the default 'admin' (its password is generated into the secret xnat_admin_secret_arn)."
  type        = string
  default     = "siteadmin"
}

variable "xnat_artifact_sha256" {
  description = "SHA-256 of each pinned XNAT download, keyed by file name: xnat-web-1.9.3.6.war, container-service-3.7.3-fat.jar, ohif-viewer-3.6.2.jar. Required; the XNAT host refuses any other file."
  type        = map(string)
}

variable "xnat_extra_projects" {
  description = "More XNAT projects the bootstrap creates besides xnat_project."
  type        = list(string)
  default     = []
}

variable "xnat_private_zone_name" {
  description = "Route 53 private zone of the site VPC; XNAT's stable name is xnat.<zone> (its certificate and the FL client use it)."
  type        = string
  default     = "sarcoma-xnat.internal"
}

variable "xnat_smtp_host" {
  description = "SMTP relay for XNAT's mail (null: XNAT's mail settings are left alone)."
  type        = string
  default     = null
}

variable "xnat_smtp_port" {
  description = "Port of the SMTP relay."
  type        = number
  default     = 587
}

variable "xnat_smtp_secret_arn" {
  description = "Secrets Manager secret with the SMTP password (plain string), or null."
  type        = string
  default     = null
}

variable "xnat_smtp_user" {
  description = "SMTP user name, or null."
  type        = string
  default     = null
}

variable "xnat_project" {
  description = "ID of the site's curated XNAT project (commands and subscriptions are installed for it; the NVFlare client trains on it)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,24}$", var.xnat_project))
    error_message = "xnat_project must be an XNAT project ID: letters, digits, '_' or '-', at most 24 characters."
  }
}

# ------------------------------------------------------------------ data bucket
variable "data_bucket_name" {
  description = "Globally unique name of the site's private bucket (DICOM exports, NVFlare startup kit, wheels)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,56}[a-z0-9]$", var.data_bucket_name))
    error_message = "data_bucket_name must be a valid S3 bucket name of at most 58 characters."
  }
}

# ------------------------------------------------------------------ federated learning
variable "fl_ports" {
  description = "TCP port(s) of the central FL server: [8002] for NVFlare 2.7+, [8002, 8003] for a separate admin port."
  type        = list(number)
  default     = [8002]

  validation {
    condition     = length(var.fl_ports) > 0 && alltrue([for p in var.fl_ports : p >= 1024 && p <= 65535])
    error_message = "fl_ports must be unprivileged TCP ports."
  }
}

variable "fl_server_fqdn" {
  description = "FL server name as in the study's project.yml (from the study lead)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$", var.fl_server_fqdn))
    error_message = "fl_server_fqdn must be a fully qualified lowercase host name."
  }
}

variable "fl_server_ip" {
  description = "Private IP of the central FL server (from the study lead); routed through the Transit Gateway."
  type        = string

  validation {
    condition     = can(cidrhost("${var.fl_server_ip}/32", 0))
    error_message = "fl_server_ip must be an IPv4 address."
  }
}

variable "nvflare_ami_id" {
  description = "AMI of the NVFlare client, ideally with sarcoma-xnat[fl] baked in (the FL subnet has no internet)."
  type        = string

  validation {
    condition     = can(regex("^ami-[0-9a-f]{8,17}$", var.nvflare_ami_id))
    error_message = "nvflare_ami_id must look like ami-0123456789abcdef0."
  }
}

variable "nvflare_instance_type" {
  description = "Instance type of the NVFlare client."
  type        = string
  default     = "m6i.xlarge"
}

variable "nvflare_site_name" {
  description = "This site's client name in the study's project.yml."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_-]{0,62}$", var.nvflare_site_name))
    error_message = "nvflare_site_name must be lowercase letters, digits, '_' or '-'."
  }
}

variable "startup_kit_s3_key" {
  description = "Key of the site's zipped startup kit in the data bucket (upload it with SSE-KMS before apply). Null when startup_kit_secret_arn is used."
  type        = string
  default     = "nvflare/startup-kit.zip"
}

variable "startup_kit_secret_arn" {
  description = "Secrets Manager secret with the base64 of the zipped startup kit, instead of the S3 object."
  type        = string
  default     = null
}

variable "transit_gateway_id" {
  description = "The study's Transit Gateway (shared with this account through AWS RAM by the study lead)."
  type        = string

  validation {
    condition     = can(regex("^tgw-[0-9a-f]{8,17}$", var.transit_gateway_id))
    error_message = "transit_gateway_id must look like tgw-0123456789abcdef0."
  }
}

variable "wheelhouse_prefix" {
  description = "Prefix in the data bucket with wheels of sarcoma-xnat[fl] for an offline install on the NVFlare client; null when the AMI has it."
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

# ------------------------------------------------------------------ security baseline and egress
variable "alert_emails" {
  description = "E-mail addresses for the site's alarms (CPU, disk, XNAT health check, FL client heartbeat) and budget alerts."
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

variable "host_internet_egress" {
  description = "Keep the XNAT and Docker hosts' HTTPS egress to the internet (0.0.0.0/0:443 through NAT). The first boot needs it for the XNAT, plugin and suite downloads; set false and re-apply once the bootstrap has finished: the hosts then reach only the VPC endpoints, S3 (study bucket and AWS package buckets) and each other."
  type        = bool
  default     = true
}

variable "monthly_budget_usd" {
  description = "Monthly cost budget of the site account in USD (alerts at 80 % actual, 100 % forecast)."
  type        = number
  default     = 1500
}

variable "nvflare_privacy_policy" {
  description = "The site's NVFlare privacy policy, written to the kit's local/privacy.json (object with scopes and default_scope), or null for none."
  type        = any
  default     = null
}
