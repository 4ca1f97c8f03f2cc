# The study lead's side: the Transit Gateway that joins the sites, shared through AWS RAM and
# accepting no attachment by itself, and the central NVFlare server in a VPC without internet.

locals {
  data_key_arn = var.data_kms_key_arn != null ? var.data_kms_key_arn : module.data_key[0].key_arn
  logs_key_arn = var.logs_kms_key_arn != null ? var.logs_kms_key_arn : module.logs_key[0].key_arn
  fl_subnets   = [cidrsubnet(var.vpc_cidr, 1, 0), cidrsubnet(var.vpc_cidr, 1, 1)]
  server_ip    = cidrhost(local.fl_subnets[0], var.server_host_number)
  # every network that talks to the FL server over the gateway: site FL subnets, on-prem sites,
  # and the lead's admin networks
  client_cidrs = distinct(concat(var.site_fl_cidrs, [for s in values(var.onprem_sites) : s.fl_cidr]))
}

module "data_key" {
  source      = "../../modules/kms"
  count       = var.data_kms_key_arn == null ? 1 : 0
  name        = "${var.name}-data"
  description = "sarcoma-xnat central: FL server volume, artifact bucket"
  account_id  = var.account_id
  region      = var.region
}

module "logs_key" {
  source                = "../../modules/kms"
  count                 = var.logs_kms_key_arn == null ? 1 : 0
  name                  = "${var.name}-logs"
  description           = "sarcoma-xnat central: CloudWatch log groups"
  account_id            = var.account_id
  region                = var.region
  allow_cloudwatch_logs = true
}

# ------------------------------------------------------------------ Transit Gateway
resource "aws_ec2_transit_gateway" "study" {
  description                     = "sarcoma-xnat study network: sites to the central FL server"
  auto_accept_shared_attachments  = "disable"
  default_route_table_association = "disable"
  default_route_table_propagation = "disable"
  dns_support                     = "enable"
  tags                            = { Name = "${var.name}-study" }
}

resource "aws_ram_resource_share" "tgw" {
  name                      = "${var.name}-transit-gateway"
  allow_external_principals = var.ram_allow_external_principals
}

resource "aws_ram_resource_association" "tgw" {
  resource_arn       = aws_ec2_transit_gateway.study.arn
  resource_share_arn = aws_ram_resource_share.tgw.arn
}

resource "aws_ram_principal_association" "sites" {
  for_each           = toset(var.site_account_ids)
  principal          = each.value
  resource_share_arn = aws_ram_resource_share.tgw.arn
}

resource "aws_ec2_transit_gateway_vpc_attachment_accepter" "sites" {
  for_each                      = toset(var.site_attachment_ids)
  transit_gateway_attachment_id = each.value
  # explicit hub-and-spoke route tables below, never the default one
  transit_gateway_default_route_table_association = false
  transit_gateway_default_route_table_propagation = false
  tags                                            = { Name = "${var.name}-site-${each.value}" }
}

# hub and spoke: every site (VPC or VPN) is associated with the spoke table, which knows only
# the central VPC; the central VPC's attachment is associated with the hub table, which knows
# every site. A site therefore cannot route to another site.
resource "aws_ec2_transit_gateway_route_table" "hub" {
  transit_gateway_id = aws_ec2_transit_gateway.study.id
  tags               = { Name = "${var.name}-hub" }
}

resource "aws_ec2_transit_gateway_route_table" "spokes" {
  transit_gateway_id = aws_ec2_transit_gateway.study.id
  tags               = { Name = "${var.name}-spokes" }
}

resource "aws_ec2_transit_gateway_route_table_association" "hub" {
  transit_gateway_attachment_id  = module.network.transit_gateway_attachment_id
  transit_gateway_route_table_id = aws_ec2_transit_gateway_route_table.hub.id
}

resource "aws_ec2_transit_gateway_route_table_propagation" "hub_to_spokes" {
  transit_gateway_attachment_id  = module.network.transit_gateway_attachment_id
  transit_gateway_route_table_id = aws_ec2_transit_gateway_route_table.spokes.id
}

resource "aws_ec2_transit_gateway_route_table_association" "sites" {
  for_each                       = toset(var.site_attachment_ids)
  transit_gateway_attachment_id  = aws_ec2_transit_gateway_vpc_attachment_accepter.sites[each.key].id
  transit_gateway_route_table_id = aws_ec2_transit_gateway_route_table.spokes.id
}

resource "aws_ec2_transit_gateway_route_table_propagation" "sites_to_hub" {
  for_each                       = toset(var.site_attachment_ids)
  transit_gateway_attachment_id  = aws_ec2_transit_gateway_vpc_attachment_accepter.sites[each.key].id
  transit_gateway_route_table_id = aws_ec2_transit_gateway_route_table.hub.id
}

# ------------------------------------------------------------------ on-prem sites (Site-to-Site VPN)
resource "aws_customer_gateway" "onprem" {
  for_each   = var.onprem_sites
  bgp_asn    = each.value.bgp_asn
  ip_address = each.value.public_ip
  type       = "ipsec.1"
  tags       = { Name = "${var.name}-${each.key}" }
}

resource "aws_cloudwatch_log_group" "vpn" {
  count             = length(var.onprem_sites) > 0 ? 1 : 0
  name              = "/sarcoma-xnat/${var.name}/site-to-site-vpn"
  retention_in_days = 365
  kms_key_id        = local.logs_key_arn
}

resource "aws_vpn_connection" "onprem" {
  for_each            = var.onprem_sites
  customer_gateway_id = aws_customer_gateway.onprem[each.key].id
  transit_gateway_id  = aws_ec2_transit_gateway.study.id
  type                = "ipsec.1"
  static_routes_only  = true

  tunnel1_ike_versions                 = ["ikev2"]
  tunnel2_ike_versions                 = ["ikev2"]
  tunnel1_phase1_encryption_algorithms = ["AES256-GCM-16"]
  tunnel2_phase1_encryption_algorithms = ["AES256-GCM-16"]
  tunnel1_phase2_encryption_algorithms = ["AES256-GCM-16"]
  tunnel2_phase2_encryption_algorithms = ["AES256-GCM-16"]
  tunnel1_phase1_integrity_algorithms  = ["SHA2-384"]
  tunnel2_phase1_integrity_algorithms  = ["SHA2-384"]
  tunnel1_phase2_integrity_algorithms  = ["SHA2-384"]
  tunnel2_phase2_integrity_algorithms  = ["SHA2-384"]
  tunnel1_phase1_dh_group_numbers      = [20]
  tunnel2_phase1_dh_group_numbers      = [20]
  tunnel1_phase2_dh_group_numbers      = [20]
  tunnel2_phase2_dh_group_numbers      = [20]

  tunnel1_log_options {
    cloudwatch_log_options {
      log_enabled       = true
      log_group_arn     = aws_cloudwatch_log_group.vpn[0].arn
      log_output_format = "json"
    }
  }
  tunnel2_log_options {
    cloudwatch_log_options {
      log_enabled       = true
      log_group_arn     = aws_cloudwatch_log_group.vpn[0].arn
      log_output_format = "json"
    }
  }

  tags = { Name = "${var.name}-${each.key}" }
}

resource "aws_ec2_transit_gateway_route_table_association" "onprem" {
  for_each                       = var.onprem_sites
  transit_gateway_attachment_id  = aws_vpn_connection.onprem[each.key].transit_gateway_attachment_id
  transit_gateway_route_table_id = aws_ec2_transit_gateway_route_table.spokes.id
}

resource "aws_ec2_transit_gateway_route" "onprem" {
  for_each                       = var.onprem_sites
  destination_cidr_block         = each.value.fl_cidr
  transit_gateway_attachment_id  = aws_vpn_connection.onprem[each.key].transit_gateway_attachment_id
  transit_gateway_route_table_id = aws_ec2_transit_gateway_route_table.hub.id
}

# ------------------------------------------------------------------ network and bucket
module "network" {
  source               = "../../modules/network"
  name                 = var.name
  region               = var.region
  cidr_block           = var.vpc_cidr
  availability_zones   = var.availability_zones
  fl_subnet_cidrs      = local.fl_subnets
  interface_endpoints  = ["ssm", "ssmmessages", "ec2messages", "kms", "logs", "monitoring"]
  flow_log_kms_key_arn = local.logs_key_arn

  attach_transit_gateway = true
  transit_gateway_id     = aws_ec2_transit_gateway.study.id
  transit_gateway_routes = local.client_cidrs

  transit_gateway_default_route_tables = false
  account_id                           = var.account_id
  s3_endpoint_bucket_names             = [var.artifact_bucket_name]
}

module "artifact_bucket" {
  source      = "../../modules/dicom_bucket"
  bucket_name = var.artifact_bucket_name
  account_id  = var.account_id
  kms_key_arn = local.data_key_arn
}

# ------------------------------------------------------------------ FL server
module "nvflare_server" {
  source                      = "../../modules/nvflare_server"
  name                        = var.name
  region                      = var.region
  vpc_id                      = module.network.vpc_id
  subnet_id                   = module.network.fl_subnet_ids[0]
  private_ip                  = local.server_ip
  ami_id                      = var.nvflare_ami_id
  instance_type               = var.server_instance_type
  kms_key_arn                 = local.data_key_arn
  s3_prefix_list_id           = module.network.s3_prefix_list_id
  endpoints_security_group_id = module.network.endpoints_security_group_id
  artifact_bucket_arn         = module.artifact_bucket.bucket_arn
  startup_kit_s3_key          = var.startup_kit_s3_key
  wheelhouse_prefix           = var.wheelhouse_prefix
  validation_archive_prefix   = var.validation_archive_prefix
  validation_project          = var.validation_project
  server_fqdn                 = var.server_fqdn
  fl_ports                    = var.fl_ports
  client_cidrs                = local.client_cidrs
  admin_cidrs                 = var.admin_cidrs
}

# ------------------------------------------------------------------ security baseline
module "security_baseline" {
  source                 = "../../modules/security_baseline"
  name                   = var.name
  account_id             = var.account_id
  region                 = var.region
  audit_bucket_name      = "${var.artifact_bucket_name}-audit"
  access_log_bucket      = module.artifact_bucket.log_bucket_id
  data_event_bucket_arns = [module.artifact_bucket.bucket_arn]
  alert_emails           = var.alert_emails
  monthly_budget_usd     = var.monthly_budget_usd
  enable_cloudtrail      = var.enable_cloudtrail
  enable_config          = var.enable_config
  enable_guardduty       = var.enable_guardduty
  hosts = {
    nvflare_server = { instance_id = module.nvflare_server.instance_id, role_name = module.nvflare_server.role_name }
  }
}

# the lead's way to the admin console without opening a port: SSM port forwarding to the
# server's admin port (attach this policy to the lead's own IAM role)
resource "aws_iam_policy" "fl_admin_console" {
  name        = "${var.name}-fl-admin-console"
  description = "Port forwarding through Session Manager to the NVFlare server's admin port"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "ForwardToTheFlServerOnly"
        Effect = "Allow"
        Action = ["ssm:StartSession"]
        Resource = [
          "arn:aws:ec2:${var.region}:${var.account_id}:instance/${module.nvflare_server.instance_id}",
          "arn:aws:ssm:${var.region}::document/AWS-StartPortForwardingSession",
        ]
      },
      {
        Sid      = "EndOwnSessions"
        Effect   = "Allow"
        Action   = ["ssm:TerminateSession", "ssm:ResumeSession"]
        Resource = ["arn:aws:ssm:${var.region}:${var.account_id}:session/$${aws:userid}-*"]
      },
    ]
  })
}
