variable "authorization_lead_rights" {
  description = "NVFlare rights of the study lead (roles lead and project_admin) at this site, written to local/authorization.json. Default: submit and manage the study's jobs, no custom code (byoc), no shell commands, operate (abort, restart) only with a user of this site's organisation."
  type        = map(string)
  default = {
    submit_job     = "any"
    clone_job      = "n:submitter"
    manage_job     = "n:submitter"
    download_job   = "n:submitter"
    view           = "any"
    operate        = "o:site"
    shell_commands = "none"
    byoc           = "none"
  }

  validation {
    condition     = alltrue([for k, v in var.authorization_lead_rights : can(regex("^(any|none|n:submitter|o:submitter|o:site)$", v))])
    error_message = "Each right must be any, none, n:submitter, o:submitter or o:site."
  }
}

variable "ami_id" {
  description = "AMI of the NVFlare client. The subnet has no internet: bake sarcoma-xnat[fl] into the image, or put wheels under wheelhouse_prefix in the data bucket."
  type        = string

  validation {
    condition     = can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "ami_id must look like ami-0123456789abcdef0."
  }
}

variable "data_bucket_arn" {
  description = "ARN of the site's private data bucket (dicom_bucket module): startup kit, wheels and curated exports live there."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9.-]+$", var.data_bucket_arn))
    error_message = "data_bucket_arn must be an S3 bucket ARN (arn:aws:s3:::name)."
  }
}

variable "data_read_prefixes" {
  description = "Key prefixes of the data bucket the client may read besides the startup kit and the wheelhouse (curated exports)."
  type        = list(string)
  default     = ["curated/"]

  validation {
    condition     = alltrue([for p in var.data_read_prefixes : can(regex("^[A-Za-z0-9_.-]+/$", p))])
    error_message = "data_read_prefixes are top-level prefixes ending in '/', e.g. curated/."
  }
}

variable "endpoints_security_group_id" {
  description = "Security group of the VPC's interface endpoints (SSM, Secrets Manager, KMS, Logs)."
  type        = string
}

variable "fl_ports" {
  description = "TCP ports of the central FL server: [8002] for NVFlare 2.7+ single-port mode, [8002, 8003] for older servers with a separate admin port."
  type        = list(number)
  default     = [8002]

  validation {
    condition     = length(var.fl_ports) > 0 && alltrue([for p in var.fl_ports : p >= 1024 && p <= 65535 && floor(p) == p])
    error_message = "fl_ports must be unprivileged TCP ports (1024-65535)."
  }
}

variable "fl_server_fqdn" {
  description = "Host name of the FL server exactly as in the NVFlare project.yml (it is the CN of the server certificate)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$", var.fl_server_fqdn))
    error_message = "fl_server_fqdn must be a fully qualified lowercase host name."
  }
}

variable "fl_server_ip" {
  description = "Private IPv4 address of the central FL server, reached through the Transit Gateway. The client may talk to nothing else outside its VPC."
  type        = string

  validation {
    condition     = can(cidrhost("${var.fl_server_ip}/32", 0)) && !startswith(var.fl_server_ip, "0.")
    error_message = "fl_server_ip must be a single IPv4 address."
  }
}

variable "instance_type" {
  description = "EC2 instance type (training runs here: CPU for the survival model, a GPU type for image models)."
  type        = string
  default     = "m6i.xlarge"
}

variable "kms_key_arn" {
  description = "KMS key of the site's data (root volume, data bucket objects, secrets)."
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

variable "privacy_policy" {
  description = "The site's NVFlare privacy policy (local/privacy.json: scopes with task_result_filters / task_data_filters and default_scope), or null for none. See terraform/README.md for the suite's differential-privacy filter."
  type        = any
  default     = null
}

variable "region" {
  description = "AWS region of the resources, e.g. eu-west-2."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must look like eu-west-2."
  }
}

variable "root_volume_size" {
  description = "Size in GiB of the encrypted root volume (Python environment, job workspace, cached images)."
  type        = number
  default     = 100

  validation {
    condition     = var.root_volume_size >= 50
    error_message = "root_volume_size must be at least 50 GiB."
  }
}

variable "s3_prefix_list_id" {
  description = "Prefix list of the VPC's S3 gateway endpoint (HTTPS egress to S3 goes only there)."
  type        = string
}

variable "site_name" {
  description = "NVFlare client name of this site, as in project.yml (the startup kit belongs to it)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_-]{0,62}$", var.site_name))
    error_message = "site_name must be lowercase letters, digits, '_' or '-'."
  }
}

variable "startup_kit_s3_key" {
  description = "Key of the site's zipped NVFlare startup kit in the data bucket (SSE-KMS). Set this or startup_kit_secret_arn, not both."
  type        = string
  default     = null

  validation {
    condition     = (var.startup_kit_s3_key == null) != (var.startup_kit_secret_arn == null)
    error_message = "Set exactly one of startup_kit_s3_key and startup_kit_secret_arn."
  }
  validation {
    condition     = var.startup_kit_s3_key == null || can(regex("^[A-Za-z0-9_./-]+\\.zip$", var.startup_kit_s3_key))
    error_message = "startup_kit_s3_key must be the key of a .zip object."
  }
}

variable "startup_kit_secret_arn" {
  description = "Secrets Manager secret holding the base64 of the zipped startup kit (binary secrets up to 64 KB). Set this or startup_kit_s3_key."
  type        = string
  default     = null

  validation {
    condition     = var.startup_kit_secret_arn == null || can(regex("^arn:aws[a-z-]*:secretsmanager:", var.startup_kit_secret_arn))
    error_message = "startup_kit_secret_arn must be a Secrets Manager secret ARN."
  }
}

variable "subnet_id" {
  description = "FL subnet (no internet route) of the client."
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
  description = "Prefix in the data bucket holding wheels of sarcoma-xnat[fl] and its dependencies, installed offline at boot; null when the AMI already has the sarcoma-xnat command."
  type        = string
  default     = null

  validation {
    condition     = var.wheelhouse_prefix == null || can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*/$", var.wheelhouse_prefix))
    error_message = "wheelhouse_prefix must be a key prefix ending in '/', e.g. wheels/."
  }
}

variable "xnat_project" {
  description = "ID of the curated XNAT project the client trains on."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,24}$", var.xnat_project))
    error_message = "xnat_project must be an XNAT project ID."
  }
}

variable "xnat_reader_secret_arn" {
  description = "Secrets Manager secret with the XNAT account the client reads with (JSON: host, user, password, ca_pem), from the xnat module."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:secretsmanager:", var.xnat_reader_secret_arn))
    error_message = "xnat_reader_secret_arn must be a Secrets Manager secret ARN."
  }
}

variable "xnat_security_group_id" {
  description = "Security group of the XNAT host; the client reaches XNAT's private HTTPS endpoint and this module adds the matching ingress rule."
  type        = string
}
