variable "admin_cidrs" {
  description = "Networks of the study lead's NVFlare admin console allowed to the admin port (over the Transit Gateway or a VPN). Empty: admin only through SSM port forwarding."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.admin_cidrs : can(cidrnetmask(c)) && !contains(["0.0.0.0/0", "::/0"], c)])
    error_message = "admin_cidrs must be IPv4 CIDR blocks and never the whole internet."
  }
}

variable "ami_id" {
  description = "AMI of the FL server with sarcoma-xnat[fl] baked in, or Amazon Linux 2023 plus wheelhouse_prefix."
  type        = string

  validation {
    condition     = can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "ami_id must look like ami-0123456789abcdef0."
  }
}

variable "artifact_bucket_arn" {
  description = "ARN of the central private bucket (dicom_bucket module) holding the server's startup kit, wheels and global models."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9.-]+$", var.artifact_bucket_arn))
    error_message = "artifact_bucket_arn must be an S3 bucket ARN."
  }
}

variable "client_cidrs" {
  description = "FL subnets of the participating sites (reached through the Transit Gateway): the only sources allowed to the FL ports."
  type        = list(string)

  validation {
    condition = length(var.client_cidrs) > 0 && alltrue([
      for c in var.client_cidrs : can(cidrhost(c, 0)) && tonumber(split("/", c)[1]) >= 16
    ])
    error_message = "client_cidrs must be IPv4 CIDRs of /16 or smaller (never 0.0.0.0/0)."
  }
}

variable "endpoints_security_group_id" {
  description = "Security group of the VPC's interface endpoints."
  type        = string
}

variable "fl_ports" {
  description = "TCP ports the server listens on: [8002] for NVFlare 2.7+ single-port mode, [8002, 8003] for a separate admin port."
  type        = list(number)
  default     = [8002]

  validation {
    condition     = length(var.fl_ports) > 0 && alltrue([for p in var.fl_ports : p >= 1024 && p <= 65535 && floor(p) == p])
    error_message = "fl_ports must be unprivileged TCP ports (1024-65535)."
  }
}

variable "instance_type" {
  description = "EC2 instance type of the FL server (aggregation only: modest)."
  type        = string
  default     = "m6i.large"
}

variable "kms_key_arn" {
  description = "KMS key for the root volume, bucket objects and secrets."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "name" {
  description = "Name prefix of every resource."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name))
    error_message = "name must be 2-20 lowercase letters, digits or '-', starting with a letter."
  }
}

variable "private_ip" {
  description = "Fixed private IP of the server inside subnet_id; the sites put it in their fl_server_ip."
  type        = string

  validation {
    condition     = can(cidrhost("${var.private_ip}/32", 0))
    error_message = "private_ip must be an IPv4 address."
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

variable "s3_prefix_list_id" {
  description = "Prefix list of the VPC's S3 gateway endpoint."
  type        = string
}

variable "server_fqdn" {
  description = "Server name exactly as in project.yml (CN of the server certificate)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$", var.server_fqdn))
    error_message = "server_fqdn must be a fully qualified lowercase host name."
  }
}

variable "startup_kit_s3_key" {
  description = "Key of the zipped server startup kit in the artifact bucket."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_./-]+\\.zip$", var.startup_kit_s3_key))
    error_message = "startup_kit_s3_key must be the key of a .zip object."
  }
}

variable "state_prefix" {
  description = "Prefix in the artifact bucket where the server's job store, snapshots and workspace (global models of every job) are persisted; restored at boot, saved every 10 minutes and at stop."
  type        = string
  default     = "state/"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9/_-]*/$", var.state_prefix))
    error_message = "state_prefix must be a relative key prefix ending in '/'."
  }
}

variable "subnet_id" {
  description = "FL subnet (no internet route) of the server."
  type        = string
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

variable "wheelhouse_prefix" {
  description = "Prefix in the artifact bucket with wheels of sarcoma-xnat[fl]; null when the AMI has it."
  type        = string
  default     = null

  validation {
    condition     = var.wheelhouse_prefix == null || can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*/$", var.wheelhouse_prefix))
    error_message = "wheelhouse_prefix must be a key prefix ending in '/'."
  }
}

variable "validation_archive_prefix" {
  description = "Prefix in the artifact bucket holding the server's validation data: a sarcoma-xnat local archive of curated (preprocessed, de-identified) sessions, synced to the server at boot for the FedAvg validation gate."
  type        = string
  default     = "validation/"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*/$", var.validation_archive_prefix))
    error_message = "validation_archive_prefix must be a key prefix ending in '/'."
  }
}

variable "validation_project" {
  description = "Project ID, inside the validation archive, of the sessions the validation gate scores updates on."
  type        = string
  default     = "VALIDATION"

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", var.validation_project))
    error_message = "validation_project must be an XNAT-style ID: letters, digits, '_', '-', '.'."
  }
}
