variable "account_id" {
  description = "AWS account ID (12 digits), for the ECR registry address."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be a 12-digit AWS account ID."
  }
}

variable "ami_id" {
  description = "AMI of the Docker host: Amazon Linux 2023 (x86_64), or a GPU image built from it."
  type        = string

  validation {
    condition     = can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "ami_id must look like ami-0123456789abcdef0."
  }
}

variable "data_path" {
  description = "Mount point of the XNAT archive (EFS); must equal the XNAT host's data_path."
  type        = string
  default     = "/data/xnat"

  validation {
    condition     = can(regex("^/[a-zA-Z0-9/_-]+[a-zA-Z0-9_-]$", var.data_path))
    error_message = "data_path must be an absolute path without a trailing slash."
  }
}

variable "efs_id" {
  description = "ID of the XNAT archive's EFS file system."
  type        = string

  validation {
    condition     = can(regex("^fs-[0-9a-f]{8,17}$", var.efs_id))
    error_message = "efs_id must look like fs-0123456789abcdef0."
  }
}

variable "efs_security_group_id" {
  description = "Security group of the EFS mount targets; this module adds the NFS rule from the Docker host to it."
  type        = string
}

variable "images" {
  description = "Step images: ECR repository name (as in the command JSON's image, without the tag) -> pinned tag. The Docker host pulls each at boot."
  type        = map(string)
  default = {
    "sarcoma-xnat/deid"       = "0.1.0"
    "sarcoma-xnat/preprocess" = "0.1.0"
    "sarcoma-xnat/prognosis"  = "0.1.0"
  }

  validation {
    condition = alltrue([for n, t in var.images :
    can(regex("^[a-z0-9][a-z0-9._/-]{1,200}$", n)) && can(regex("^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$", t)) && t != "latest"])
    error_message = "images maps ECR repository names to explicit tags (never latest)."
  }
}

variable "instance_type" {
  description = "EC2 instance type of the Docker host (containers run here: preprocessing needs 16 GiB, a GPU type such as g5.xlarge for auto-segmentation)."
  type        = string
  default     = "m6i.2xlarge"
}

variable "kms_key_arn" {
  description = "KMS key for the root volume and the TLS secret."
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

variable "region" {
  description = "AWS region of the resources, e.g. eu-west-2."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must look like eu-west-2."
  }
}

variable "root_volume_size" {
  description = "Size in GiB of the encrypted root volume (Docker images and scratch space)."
  type        = number
  default     = 200

  validation {
    condition     = var.root_volume_size >= 100
    error_message = "root_volume_size must be at least 100 GiB: the step images are several GiB each."
  }
}

variable "subnet_id" {
  description = "Private app subnet of the Docker host."
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

variable "xnat_security_group_id" {
  description = "Security group of the XNAT host: the only source allowed to reach the Docker API (TLS 2376)."
  type        = string
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
