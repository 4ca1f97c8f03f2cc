variable "account_id" {
  description = "AWS account ID (12 digits) whose principals may use the S3 gateway endpoint on the study's buckets; needed when s3_endpoint_bucket_names is set."
  type        = string
  default     = null

  validation {
    condition     = var.account_id == null || can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be a 12-digit AWS account ID."
  }
}

variable "app_subnet_cidrs" {
  description = "CIDRs of the private application subnets (XNAT host, Container Service Docker host), one per availability zone. Their default route goes to the NAT gateway when enable_nat_gateway is true. Empty for a VPC without such hosts."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.app_subnet_cidrs : can(cidrhost(c, 0))])
    error_message = "Every app_subnet_cidrs entry must be a valid IPv4 CIDR."
  }
}

variable "attach_transit_gateway" {
  description = "Attach the FL subnets to transit_gateway_id and route transit_gateway_routes through it (a flag, because the gateway ID may be unknown until apply when it is created in the same root)."
  type        = bool
  default     = false

  validation {
    condition     = !var.attach_transit_gateway || (var.transit_gateway_id != null && length(var.fl_subnet_cidrs) > 0)
    error_message = "attach_transit_gateway needs transit_gateway_id and fl_subnet_cidrs."
  }
}

variable "availability_zones" {
  description = "Availability zones to spread the subnets over (at least two: RDS and the load balancer need two)."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 2 && length(distinct(var.availability_zones)) == length(var.availability_zones)
    error_message = "Give at least two distinct availability zones."
  }
}

variable "cidr_block" {
  description = "IPv4 CIDR of the VPC. Must not overlap the other VPCs attached to the study's Transit Gateway."
  type        = string

  validation {
    condition     = can(cidrhost(var.cidr_block, 0)) && tonumber(split("/", var.cidr_block)[1]) <= 24
    error_message = "cidr_block must be a valid IPv4 CIDR of /24 or larger."
  }
}

variable "data_subnet_cidrs" {
  description = "CIDRs of the isolated data subnets (RDS, EFS mount targets), one per availability zone. No route leaves the VPC from them."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.data_subnet_cidrs : can(cidrhost(c, 0))])
    error_message = "Every data_subnet_cidrs entry must be a valid IPv4 CIDR."
  }
}

variable "enable_nat_gateway" {
  description = "Create a NAT gateway (in the first public subnet) as default route of the app subnets, so the XNAT and Docker hosts can fetch XNAT, plugins and container images. Needs public_subnet_cidrs."
  type        = bool
  default     = false

  validation {
    condition     = !var.enable_nat_gateway || length(var.public_subnet_cidrs) > 0
    error_message = "enable_nat_gateway needs at least one public subnet (public_subnet_cidrs)."
  }
}

variable "fl_subnet_cidrs" {
  description = "CIDRs of the federated-learning subnets (NVFlare client or server), one per availability zone. They have no internet route: only the VPC, the VPC endpoints and the transit_gateway_routes."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.fl_subnet_cidrs : can(cidrhost(c, 0))])
    error_message = "Every fl_subnet_cidrs entry must be a valid IPv4 CIDR."
  }
}

variable "flow_log_kms_key_arn" {
  description = "ARN of the KMS key that encrypts the flow-log log group (the key policy must allow CloudWatch Logs)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.flow_log_kms_key_arn))
    error_message = "flow_log_kms_key_arn must be a KMS key ARN."
  }
}

variable "flow_log_retention_days" {
  description = "Days to keep VPC flow logs (at least a year for audit)."
  type        = number
  default     = 365

  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_log_retention_days)
    error_message = "flow_log_retention_days must be a CloudWatch retention value of at least 365 days."
  }
}

variable "interface_endpoints" {
  description = "AWS services reached through interface VPC endpoints (private DNS) so that hosts without internet can use SSM Session Manager, Secrets Manager, KMS and CloudWatch Logs."
  type        = list(string)
  default     = ["ssm", "ssmmessages", "ec2messages", "secretsmanager", "kms", "logs"]

  validation {
    condition     = alltrue([for s in var.interface_endpoints : can(regex("^[a-z0-9.-]+$", s))])
    error_message = "interface_endpoints are service short names such as ssm or secretsmanager."
  }
}

variable "name" {
  description = "Name prefix of every resource (for example sarcoma-site-a)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "name must be 2-31 lowercase letters, digits or '-', starting with a letter."
  }
}

variable "public_subnet_cidrs" {
  description = "CIDRs of the public subnets, used only by the load balancer and the NAT gateway, one per availability zone. Empty for a VPC without internet access (the central FL server)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.public_subnet_cidrs : can(cidrhost(c, 0))])
    error_message = "Every public_subnet_cidrs entry must be a valid IPv4 CIDR."
  }
}

variable "region" {
  description = "AWS region (for the VPC endpoint service names)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must look like eu-west-2."
  }
}

variable "s3_endpoint_bucket_names" {
  description = "The study's buckets that hosts may use through the S3 gateway endpoint (besides AWS-owned package and image-layer buckets, read-only). null leaves the endpoint open to every bucket."
  type        = list(string)
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "transit_gateway_id" {
  description = "ID of the study's Transit Gateway (tgw-...) to attach the FL subnets to when attach_transit_gateway is true."
  type        = string
  default     = null

  validation {
    condition     = var.transit_gateway_id == null || can(regex("^tgw-[0-9a-f]{8,17}$", var.transit_gateway_id))
    error_message = "transit_gateway_id must look like tgw-0123456789abcdef0."
  }
}

variable "transit_gateway_default_route_tables" {
  description = "Associate and propagate the attachment with the gateway's default route table. null in a site account (the owner decides); false for the hub attachment of a gateway whose route tables are explicit."
  type        = bool
  default     = null
}

variable "transit_gateway_routes" {
  description = "Destination CIDRs (other VPCs of the study, e.g. the central FL server's subnet) routed through the Transit Gateway from the FL subnets."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.transit_gateway_routes : can(cidrhost(c, 0)) && c != "0.0.0.0/0"])
    error_message = "transit_gateway_routes must be valid IPv4 CIDRs and must not be a default route."
  }
}
