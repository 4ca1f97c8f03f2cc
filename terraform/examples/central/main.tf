# The study lead's side: the Transit Gateway that joins the sites, shared through AWS RAM and
# accepting no attachment by itself, and the central NVFlare server in a VPC without internet.

locals {
  data_key_arn = var.data_kms_key_arn != null ? var.data_kms_key_arn : module.data_key[0].key_arn
  logs_key_arn = var.logs_kms_key_arn != null ? var.logs_kms_key_arn : module.logs_key[0].key_arn
  fl_subnets   = [cidrsubnet(var.vpc_cidr, 1, 0), cidrsubnet(var.vpc_cidr, 1, 1)]
  server_ip    = cidrhost(local.fl_subnets[0], var.server_host_number)
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
  default_route_table_association = "enable"
  default_route_table_propagation = "enable"
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
  tags                          = { Name = "${var.name}-site-${each.value}" }
}

# ------------------------------------------------------------------ network and bucket
module "network" {
  source               = "../../modules/network"
  name                 = var.name
  region               = var.region
  cidr_block           = var.vpc_cidr
  availability_zones   = var.availability_zones
  fl_subnet_cidrs      = local.fl_subnets
  interface_endpoints  = ["ssm", "ssmmessages", "ec2messages", "kms", "logs"]
  flow_log_kms_key_arn = local.logs_key_arn

  attach_transit_gateway = true
  transit_gateway_id     = aws_ec2_transit_gateway.study.id
  transit_gateway_routes = var.site_fl_cidrs
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
  client_cidrs                = var.site_fl_cidrs
}
