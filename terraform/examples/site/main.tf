# A study site: XNAT (load balancer, XNAT host, PostgreSQL, EFS archive, Container Service Docker
# host) and the site's NVFlare client, which reaches the central FL server only through the
# study's Transit Gateway.

locals {
  data_key_arn = var.data_kms_key_arn != null ? var.data_kms_key_arn : module.data_key[0].key_arn
  logs_key_arn = var.logs_kms_key_arn != null ? var.logs_kms_key_arn : module.logs_key[0].key_arn
  # eight equal subnets: public, app, fl, data - each in two zones
  subnet = [for i in range(8) : cidrsubnet(var.vpc_cidr, 3, i)]

  # Elastic Load Balancing's log-delivery accounts (ELB access-log documentation); regions opened
  # after 2022 use the logdelivery.elasticloadbalancing.amazonaws.com principal instead (null)
  elb_log_accounts = {
    "us-east-1"      = "127311923021"
    "us-east-2"      = "033677994240"
    "us-west-1"      = "027434742980"
    "us-west-2"      = "797873946194"
    "ca-central-1"   = "985666609251"
    "eu-central-1"   = "054676820928"
    "eu-west-1"      = "156460612806"
    "eu-west-2"      = "652711504416"
    "eu-west-3"      = "009996457667"
    "eu-north-1"     = "897822967062"
    "eu-south-1"     = "635631232127"
    "ap-northeast-1" = "582318560864"
    "ap-northeast-2" = "600734575887"
    "ap-south-1"     = "718504428378"
    "ap-southeast-1" = "114774131450"
    "ap-southeast-2" = "783225319266"
    "sa-east-1"      = "507241528517"
  }
}

module "data_key" {
  source      = "../../modules/kms"
  count       = var.data_kms_key_arn == null ? 1 : 0
  name        = "${var.name}-data"
  description = "sarcoma-xnat ${var.name}: data at rest (EBS, RDS, EFS, S3, secrets, backups)"
  account_id  = var.account_id
  region      = var.region
}

module "logs_key" {
  source                = "../../modules/kms"
  count                 = var.logs_kms_key_arn == null ? 1 : 0
  name                  = "${var.name}-logs"
  description           = "sarcoma-xnat ${var.name}: CloudWatch log groups"
  account_id            = var.account_id
  region                = var.region
  allow_cloudwatch_logs = true
}

module "network" {
  source               = "../../modules/network"
  name                 = var.name
  region               = var.region
  cidr_block           = var.vpc_cidr
  availability_zones   = var.availability_zones
  public_subnet_cidrs  = slice(local.subnet, 0, 2)
  app_subnet_cidrs     = slice(local.subnet, 2, 4)
  fl_subnet_cidrs      = slice(local.subnet, 4, 6)
  data_subnet_cidrs    = slice(local.subnet, 6, 8)
  enable_nat_gateway   = true
  flow_log_kms_key_arn = local.logs_key_arn
  # the hosts' AWS APIs without internet (host_internet_egress = false): ECR for the Docker host,
  # monitoring for the CloudWatch agent and the FL client heartbeat
  interface_endpoints      = ["ssm", "ssmmessages", "ec2messages", "secretsmanager", "kms", "logs", "monitoring", "ecr.api", "ecr.dkr"]
  account_id               = var.account_id
  s3_endpoint_bucket_names = [var.data_bucket_name]

  attach_transit_gateway = true
  transit_gateway_id     = var.transit_gateway_id
  transit_gateway_routes = ["${var.fl_server_ip}/32"]
}

module "dicom_bucket" {
  source                      = "../../modules/dicom_bucket"
  bucket_name                 = var.data_bucket_name
  account_id                  = var.account_id
  kms_key_arn                 = local.data_key_arn
  alb_log_delivery_account_id = lookup(local.elb_log_accounts, var.region, null)
}

module "xnat" {
  source                 = "../../modules/xnat"
  name                   = var.name
  account_id             = var.account_id
  region                 = var.region
  vpc_id                 = module.network.vpc_id
  public_subnet_ids      = module.network.public_subnet_ids
  app_subnet_ids         = module.network.app_subnet_ids
  data_subnet_ids        = module.network.data_subnet_ids
  kms_key_arn            = local.data_key_arn
  logs_kms_key_arn       = local.logs_key_arn
  alb_access_logs_bucket = module.dicom_bucket.log_bucket_id

  allowed_cidrs   = var.allowed_cidrs
  certificate_arn = var.certificate_arn
  site_url        = var.site_url
  admin_email     = var.admin_email
  ami_id          = var.xnat_ami_id
  instance_type   = var.xnat_instance_type
  xnat_project    = var.xnat_project
  suite_package   = var.suite_package

  admin_user        = var.xnat_admin_user
  artifact_sha256   = var.xnat_artifact_sha256
  extra_projects    = var.xnat_extra_projects
  private_zone_name = var.xnat_private_zone_name
  smtp_host         = var.xnat_smtp_host
  smtp_port         = var.xnat_smtp_port
  smtp_user         = var.xnat_smtp_user
  smtp_secret_arn   = var.xnat_smtp_secret_arn

  docker_host_address   = module.container_service.private_ip
  docker_tls_secret_arn = module.container_service.tls_secret_arn

  internet_egress             = var.host_internet_egress
  s3_prefix_list_id           = module.network.s3_prefix_list_id
  endpoints_security_group_id = module.network.endpoints_security_group_id
}

module "container_service" {
  source                 = "../../modules/container_service"
  name                   = var.name
  account_id             = var.account_id
  images                 = var.step_images
  region                 = var.region
  vpc_id                 = module.network.vpc_id
  subnet_id              = module.network.app_subnet_ids[0]
  ami_id                 = var.docker_host_ami_id
  instance_type          = var.docker_host_instance_type
  kms_key_arn            = local.data_key_arn
  efs_id                 = module.xnat.efs_id
  efs_security_group_id  = module.xnat.efs_security_group_id
  xnat_security_group_id = module.xnat.security_group_id

  internet_egress             = var.host_internet_egress
  s3_prefix_list_id           = module.network.s3_prefix_list_id
  endpoints_security_group_id = module.network.endpoints_security_group_id
}

module "nvflare_client" {
  source                      = "../../modules/nvflare_client"
  name                        = var.name
  region                      = var.region
  vpc_id                      = module.network.vpc_id
  subnet_id                   = module.network.fl_subnet_ids[0]
  ami_id                      = var.nvflare_ami_id
  instance_type               = var.nvflare_instance_type
  kms_key_arn                 = local.data_key_arn
  s3_prefix_list_id           = module.network.s3_prefix_list_id
  endpoints_security_group_id = module.network.endpoints_security_group_id
  xnat_security_group_id      = module.xnat.security_group_id
  xnat_reader_secret_arn      = module.xnat.fl_reader_secret_arn
  xnat_project                = var.xnat_project
  data_bucket_arn             = module.dicom_bucket.bucket_arn
  site_name                   = var.nvflare_site_name
  fl_server_fqdn              = var.fl_server_fqdn
  fl_server_ip                = var.fl_server_ip
  fl_ports                    = var.fl_ports
  startup_kit_s3_key          = var.startup_kit_secret_arn == null ? var.startup_kit_s3_key : null
  startup_kit_secret_arn      = var.startup_kit_secret_arn
  wheelhouse_prefix           = var.wheelhouse_prefix
  privacy_policy              = var.nvflare_privacy_policy
}

module "security_baseline" {
  source                 = "../../modules/security_baseline"
  name                   = var.name
  account_id             = var.account_id
  region                 = var.region
  audit_bucket_name      = "${var.data_bucket_name}-audit"
  access_log_bucket      = module.dicom_bucket.log_bucket_id
  data_event_bucket_arns = [module.dicom_bucket.bucket_arn]
  alert_emails           = var.alert_emails
  monthly_budget_usd     = var.monthly_budget_usd
  enable_cloudtrail      = var.enable_cloudtrail
  enable_config          = var.enable_config
  enable_guardduty       = var.enable_guardduty
  xnat_health            = module.xnat.health_check
  fl_heartbeat_sites     = [var.nvflare_site_name]
  hosts = {
    xnat    = { instance_id = module.xnat.instance_id, role_name = module.xnat.role_name }
    docker  = { instance_id = module.container_service.instance_id, role_name = module.container_service.role_name }
    nvflare = { instance_id = module.nvflare_client.instance_id, role_name = module.nvflare_client.role_name }
  }
}
