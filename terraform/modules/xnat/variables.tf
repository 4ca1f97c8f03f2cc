# ------------------------------------------------------------------ placement
variable "account_id" {
  description = "AWS account ID (12 digits)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be a 12-digit AWS account ID."
  }
}

variable "app_subnet_ids" {
  description = "Private application subnets; the XNAT host goes into the first one."
  type        = list(string)

  validation {
    condition     = length(var.app_subnet_ids) >= 1
    error_message = "Give at least one app subnet."
  }
}

variable "data_subnet_ids" {
  description = "Isolated data subnets in at least two availability zones, for RDS and the EFS mount targets."
  type        = list(string)

  validation {
    condition     = length(var.data_subnet_ids) >= 2
    error_message = "RDS needs data subnets in at least two availability zones."
  }
}

variable "name" {
  description = "Name prefix (short: load balancer names are limited to 32 characters)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name))
    error_message = "name must be 2-20 lowercase letters, digits or '-', starting with a letter."
  }
}

variable "public_subnet_ids" {
  description = "Public subnets in at least two availability zones, for the load balancer only."
  type        = list(string)

  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "The load balancer needs public subnets in at least two availability zones."
  }
}

variable "region" {
  description = "AWS region of the resources, e.g. eu-west-2."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must look like eu-west-2."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "vpc_id" {
  description = "ID of the VPC the resources go into."
  type        = string
}

# ------------------------------------------------------------------ encryption and logs
variable "alb_access_logs_bucket" {
  description = "Name of the S3 bucket (SSE-S3) that receives the load balancer's access logs under alb/ (the dicom_bucket module's log bucket)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for data at rest: EBS, RDS, EFS, backups, secrets."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "logs_kms_key_arn" {
  description = "KMS key for CloudWatch log groups (its policy must allow CloudWatch Logs)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.logs_kms_key_arn))
    error_message = "logs_kms_key_arn must be a KMS key ARN."
  }
}

# ------------------------------------------------------------------ front door
variable "allowed_cidrs" {
  description = "Networks allowed to reach XNAT over HTTPS (hospital and university ranges). The whole internet (0.0.0.0/0) is refused: XNAT holds pseudonymised patient data."
  type        = list(string)

  validation {
    condition = length(var.allowed_cidrs) > 0 && alltrue([
      for c in var.allowed_cidrs : can(cidrhost(c, 0)) && tonumber(split("/", c)[1]) >= 8
    ])
    error_message = "allowed_cidrs must be IPv4 CIDRs no larger than /8 (never 0.0.0.0/0)."
  }
}

variable "certificate_arn" {
  description = "ARN of the ACM certificate for site_url's host name, issued in this region."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]{36}$", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<uuid>)."
  }
}

variable "site_url" {
  description = "Public HTTPS URL of XNAT (the DNS name the admin points at the load balancer), e.g. https://xnat.site-a.example.org."
  type        = string

  validation {
    condition     = can(regex("^https://[a-z0-9.-]+$", var.site_url))
    error_message = "site_url must be https://<host name> without a path or trailing slash."
  }
}

# ------------------------------------------------------------------ XNAT host
variable "admin_email" {
  description = "E-mail address of the XNAT site administrator."
  type        = string

  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.admin_email))
    error_message = "admin_email must be an e-mail address."
  }
}

variable "ami_id" {
  description = "AMI of the XNAT host: Amazon Linux 2023 (x86_64) or an image baked from it."
  type        = string

  validation {
    condition     = can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "ami_id must look like ami-0123456789abcdef0."
  }
}

variable "artifact_sha256" {
  description = "SHA-256 of every downloaded artifact, keyed by file name (xnat-web-1.9.3.6.war, container-service-3.7.3-fat.jar, ohif-viewer-3.6.2.jar): required for each one; a missing or different checksum stops the boot. Compute them once from the release downloads (sha256sum) and keep them in terraform.tfvars."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for v in values(var.artifact_sha256) : can(regex("^[0-9a-f]{64}$", v))])
    error_message = "artifact_sha256 values must be 64 lowercase hex digits."
  }
}

variable "data_path" {
  description = "Where the EFS archive is mounted, identical on the XNAT and Docker hosts (so the Container Service needs no path translation)."
  type        = string
  default     = "/data/xnat"

  validation {
    condition     = can(regex("^/[a-zA-Z0-9/_-]+[a-zA-Z0-9_-]$", var.data_path))
    error_message = "data_path must be an absolute path without a trailing slash."
  }
}

variable "instance_type" {
  description = "EC2 instance type of the XNAT host (4 vCPU and 16 GiB at least: smaller hosts fail during large uploads)."
  type        = string
  default     = "m6i.xlarge"
}

variable "plugin_urls" {
  description = "XNAT plugin jars to install (the Container Service and the OHIF viewer plugins at least)."
  type        = list(string)
  default = [
    # Container Service 3.7.3 is built against XNAT 1.9.3 (NrgXnat/container-service build.gradle: vXnat = "1.9.3");
    # 3.4.x is the line for XNAT 1.8.x (wiki container-service-compatibility-matrix)
    "https://api.bitbucket.org/2.0/repositories/xnatdev/container-service/downloads/container-service-3.7.3-fat.jar",
    "https://api.bitbucket.org/2.0/repositories/icrimaginginformatics/ohif-viewer-xnat-plugin/downloads/ohif-viewer-3.6.2.jar",
  ]

  validation {
    condition = (
      alltrue([for u in var.plugin_urls : can(regex("^https://.+\\.jar$", u))]) &&
      anytrue([for u in var.plugin_urls : can(regex("container-service", u))]) &&
      anytrue([for u in var.plugin_urls : can(regex("ohif", u))])
    )
    error_message = "plugin_urls must be https URLs of .jar files and include the Container Service and OHIF viewer plugins."
  }
}

variable "root_volume_size" {
  description = "Size in GiB of the XNAT host's encrypted root volume (cache and build space)."
  type        = number
  default     = 100

  validation {
    condition     = var.root_volume_size >= 50
    error_message = "root_volume_size must be at least 50 GiB."
  }
}

variable "suite_package" {
  description = "What pip installs to get the sarcoma-xnat command on the XNAT host: a requirement (sarcoma-xnat==0.1.0) or an s3:// URI of a wheel in a bucket the host may read."
  type        = string
  default     = "sarcoma-xnat"
}

variable "xnat_project" {
  description = "ID of the XNAT project the suite's commands and event subscriptions are installed for (the curated study project)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,24}$", var.xnat_project))
    error_message = "xnat_project must be an XNAT project ID: letters, digits, '_' or '-', at most 24 characters."
  }
}

variable "xnat_war_url" {
  description = "Download URL of the XNAT web application (WAR)."
  type        = string
  default     = "https://api.bitbucket.org/2.0/repositories/xnatdev/xnat-web/downloads/xnat-web-1.9.3.6.war"

  validation {
    condition     = can(regex("^https://.+\\.war$", var.xnat_war_url))
    error_message = "xnat_war_url must be an https URL of a .war file."
  }
}

variable "admin_user" {
  description = "Login of the named XNAT administrator that replaces the default 'admin' account (which the bootstrap disables, with 'guest'); its password is generated into the admin secret."
  type        = string
  default     = "siteadmin"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{2,31}$", var.admin_user)) && !contains(["admin", "guest", "fl_reader"], var.admin_user)
    error_message = "admin_user must be 3-32 lowercase letters, digits or '_', and not admin, guest or fl_reader."
  }
}

variable "db_app_user" {
  description = "PostgreSQL role XNAT logs in as (created by the XNAT host with the RDS master secret; its password is in the db-app secret)."
  type        = string
  default     = "xnat_app"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{2,30}$", var.db_app_user)) && var.db_app_user != "xnat"
    error_message = "db_app_user must be a lowercase PostgreSQL role name other than the master user 'xnat'."
  }
}

variable "extra_projects" {
  description = "More XNAT projects the bootstrap creates besides xnat_project (e.g. a raw intake project)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for p in var.extra_projects : can(regex("^[A-Za-z0-9_-]{1,24}$", p))])
    error_message = "extra_projects must be XNAT project IDs."
  }
}

variable "private_zone_name" {
  description = "Route 53 private hosted zone created for the site VPC; XNAT is xnat.<zone> there (the name in its certificate and in the FL client's secret)."
  type        = string
  default     = "sarcoma-xnat.internal"

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$", var.private_zone_name))
    error_message = "private_zone_name must be a DNS name such as site-a.sarcoma.internal."
  }
}

variable "smtp_host" {
  description = "SMTP relay XNAT sends mail through (null: leave XNAT's mail settings alone)."
  type        = string
  default     = null
}

variable "smtp_port" {
  description = "Port of the SMTP relay."
  type        = number
  default     = 587
}

variable "smtp_secret_arn" {
  description = "Secrets Manager secret holding the SMTP password (plain string), or null for a relay without authentication."
  type        = string
  default     = null

  validation {
    condition     = var.smtp_secret_arn == null || can(regex("^arn:aws[a-z-]*:secretsmanager:", var.smtp_secret_arn))
    error_message = "smtp_secret_arn must be a Secrets Manager secret ARN."
  }
}

variable "smtp_user" {
  description = "SMTP user name, or null."
  type        = string
  default     = null
}

# ------------------------------------------------------------------ container service link
variable "docker_host_address" {
  description = "Private IP or DNS name of the Container Service's Docker host (TLS on 2376)."
  type        = string
}

variable "docker_tls_secret_arn" {
  description = "Secrets Manager secret holding the Docker client TLS bundle (JSON: ca, cert, key), written by the Docker host at boot."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:secretsmanager:", var.docker_tls_secret_arn))
    error_message = "docker_tls_secret_arn must be a Secrets Manager secret ARN."
  }
}

# ------------------------------------------------------------------ database
variable "backup_retention_days" {
  description = "Days RDS keeps automated backups and AWS Backup keeps EFS recovery points."
  type        = number
  default     = 14

  validation {
    condition     = var.backup_retention_days >= 7 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be between 7 and 35."
  }
}

variable "db_allocated_storage" {
  description = "Initial PostgreSQL storage in GiB (autoscaling up to 5x)."
  type        = number
  default     = 50

  validation {
    condition     = var.db_allocated_storage >= 20
    error_message = "db_allocated_storage must be at least 20 GiB."
  }
}

variable "db_engine_version" {
  description = "PostgreSQL major version for RDS."
  type        = string
  default     = "16"

  validation {
    condition     = contains(["14", "15", "16"], var.db_engine_version)
    error_message = "db_engine_version must be 14, 15 or 16 (versions XNAT 1.9 is used with)."
  }
}

variable "db_instance_class" {
  description = "RDS instance class (db.t3.medium is the smallest that held up under XNAT in public reports)."
  type        = string
  default     = "db.t4g.medium"

  validation {
    condition     = startswith(var.db_instance_class, "db.") && !contains(["db.t3.micro", "db.t4g.micro", "db.t3.small", "db.t4g.small"], var.db_instance_class)
    error_message = "db_instance_class must be an RDS class of at least medium size."
  }
}

variable "db_multi_az" {
  description = "Run PostgreSQL Multi-AZ (a standby in a second zone)."
  type        = bool
  default     = true
}

variable "endpoints_security_group_id" {
  description = "Security group of the VPC's interface endpoints; the host gets HTTPS egress to it (needed once internet_egress is false)."
  type        = string
}

variable "internet_egress" {
  description = "Keep the HTTPS egress to 0.0.0.0/0 (through the NAT gateway) that the first boot needs for downloads. Set false after the bootstrap has finished: the host then reaches only the VPC endpoints, S3 and its peers."
  type        = bool
  default     = true
}

variable "s3_prefix_list_id" {
  description = "Prefix list of the VPC's S3 gateway endpoint; the host gets HTTPS egress to it (OS packages and study buckets without internet)."
  type        = string
}
