# terraform test for the site root, against a mocked AWS provider (no credentials, no API calls).
# Run from terraform/examples/site: terraform init -backend=false && terraform test

mock_provider "aws" {
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-2:111122223333:log-group:mock" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::111122223333:role/mock" }
  }
  mock_resource "aws_lb" {
    defaults = { arn = "arn:aws:elasticloadbalancing:eu-west-2:111122223333:loadbalancer/app/mock/0123456789abcdef" }
  }
  mock_resource "aws_lb_target_group" {
    defaults = { arn = "arn:aws:elasticloadbalancing:eu-west-2:111122223333:targetgroup/mock/0123456789abcdef" }
  }
  mock_resource "aws_wafv2_web_acl" {
    defaults = { arn = "arn:aws:wafv2:eu-west-2:111122223333:regional/webacl/mock/11111111-2222-3333-4444-555555555555" }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:eu-west-2:111122223333:key/11111111-2222-3333-4444-555555555555" }
  }
  mock_resource "aws_secretsmanager_secret" {
    defaults = { arn = "arn:aws:secretsmanager:eu-west-2:111122223333:secret:mock-AbCdEf" }
  }
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::site-a-sarcoma-data" }
  }
  mock_resource "aws_efs_file_system" {
    defaults = { id = "fs-0123456789abcdef0" }
  }
  mock_resource "aws_instance" {
    defaults = { private_ip = "10.20.2.10" }
  }
  mock_resource "aws_db_instance" {
    defaults = {
      address            = "site-a-xnat.abcdefghijkl.eu-west-2.rds.amazonaws.com"
      master_user_secret = [{ secret_arn = "arn:aws:secretsmanager:eu-west-2:111122223333:secret:rds-db-AbCdEf", kms_key_id = "k", secret_status = "active" }]
    }
  }
}

variables {
  account_id         = "111122223333"
  region             = "eu-west-2"
  availability_zones = ["eu-west-2a", "eu-west-2b"]
  name               = "site-a"
  vpc_cidr           = "10.20.0.0/20"
  site_url           = "https://xnat.site-a.example.org"
  certificate_arn    = "arn:aws:acm:eu-west-2:111122223333:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
  allowed_cidrs      = ["192.0.2.0/24"]
  admin_email        = "xnat-admin@site-a.example.org"
  xnat_ami_id        = "ami-0123456789abcdef0"
  docker_host_ami_id = "ami-0123456789abcdef0"
  nvflare_ami_id     = "ami-0fedcba9876543210"
  xnat_project       = "STS_SITE_A"
  data_bucket_name   = "site-a-sarcoma-data"
  transit_gateway_id = "tgw-0123456789abcdef0"
  fl_server_fqdn     = "fl.sarcoma-study.example.org"
  fl_server_ip       = "10.99.4.10"
  nvflare_site_name  = "site-a"
  xnat_artifact_sha256 = {
    "xnat-web-1.9.3.6.war"            = "1111111111111111111111111111111111111111111111111111111111111111"
    "container-service-3.7.3-fat.jar" = "2222222222222222222222222222222222222222222222222222222222222222"
    "ohif-viewer-3.6.2.jar"           = "3333333333333333333333333333333333333333333333333333333333333333"
  }
}

run "site_applies_with_mocks" {
  command = apply

  assert {
    condition     = output.fl_subnet_cidrs == ["10.20.8.0/23", "10.20.10.0/23"]
    error_message = "The FL subnets should be the fifth and sixth /23 of 10.20.0.0/20."
  }

  assert {
    condition     = length(module.xnat.user_data_base64) < 21800
    error_message = "XNAT user-data (gzip) must stay under the EC2 limit of 16 KB (21,845 base64 characters)."
  }

  assert {
    condition     = module.xnat.private_fqdn == "xnat.sarcoma-xnat.internal" && output.xnat_private_url == "https://xnat.sarcoma-xnat.internal"
    error_message = "XNAT must have a stable name in the site's private zone."
  }

  assert {
    condition = alltrue([
      strcontains(module.xnat.user_data, "FL_HOST=https://xnat.sarcoma-xnat.internal"),
      strcontains(module.xnat.user_data, "subjectAltName=DNS:xnat.sarcoma-xnat.internal"),
      strcontains(module.xnat.user_data, "ADMIN_USER=siteadmin"),
      strcontains(module.xnat.user_data, "PROJECTS=\"STS_SITE_A\""),
      strcontains(module.xnat.user_data, "datasource.username=xnat_app"),
      !strcontains(module.xnat.user_data, "datasource.username=$("),
      strcontains(module.xnat.user_data, "container-service-3.7.3-fat.jar"),
      strcontains(module.xnat.user_data, "\"container-service-3.7.3-fat.jar\":\"2222"),
    ])
    error_message = "The XNAT bootstrap must use the private name, the named admin, the curated project, its own database role and pinned, checksummed plugins."
  }

  assert {
    condition     = strcontains(module.xnat.user_data, "\"$SUITE_CMD\" xnat install --project \"$SUITE_PROJECT\"") && strcontains(module.xnat.user_data, "SUITE_CMD=/usr/local/bin/sarcoma-xnat")
    error_message = "The XNAT host must install this suite's commands for the curated project."
  }

  assert {
    condition     = strcontains(module.xnat.user_data, "container-service-") && strcontains(module.xnat.user_data, "ohif-viewer-")
    error_message = "The XNAT host must install the Container Service and OHIF viewer plugins."
  }

  assert {
    condition     = strcontains(module.xnat.user_data, "DOCKER_HOST_URL=https://10.20.2.10:2376")
    error_message = "XNAT must reach the Docker host on TLS 2376 at its private address."
  }

  assert {
    condition     = strcontains(module.nvflare_client.user_data, "sarcoma-xnat fl client") && strcontains(module.nvflare_client.user_data, "10.99.4.10 fl.sarcoma-study.example.org")
    error_message = "The NVFlare client must start this suite's FL client against the central server's name and address."
  }

  assert {
    condition     = strcontains(module.nvflare_client.user_data, "s3://site-a-sarcoma-data/nvflare/startup-kit.zip")
    error_message = "The startup kit must be fetched from the site's bucket at boot."
  }

  assert {
    condition = alltrue([
      for ud in [module.xnat.user_data, module.container_service.user_data, module.nvflare_client.user_data] :
      !strcontains(ud, "PRIVATE KEY-----") && !can(regex("(?i)password\\s*=\\s*[^$\\s]", ud))
    ])
    error_message = "No user-data may carry a private key or a literal password."
  }
}

run "step_images_in_ecr" {
  command = plan

  assert {
    condition = alltrue([for r in values(module.container_service.ecr_repositories) :
    r.tag_mutability == "IMMUTABLE" && r.scan_on_push && r.encryption == "KMS"])
    error_message = "Every step image repository must be immutable, scanned on push and KMS-encrypted."
  }

  assert {
    condition     = toset(keys(module.container_service.ecr_repositories)) == toset(["sarcoma-xnat/deid", "sarcoma-xnat/preprocess", "sarcoma-xnat/prognosis"])
    error_message = "There must be one repository per step image of xnat-commands/."
  }

  assert {
    condition     = strcontains(module.container_service.user_data, "docker pull -q \"111122223333.dkr.ecr.eu-west-2.amazonaws.com/sarcoma-xnat/preprocess:0.1.0\"") && strcontains(module.container_service.user_data, "docker tag \"111122223333.dkr.ecr.eu-west-2.amazonaws.com/sarcoma-xnat/preprocess:0.1.0\" \"sarcoma-xnat/preprocess:0.1.0\"")
    error_message = "The Docker host must pull each pinned tag from ECR and tag it as the command JSON names it."
  }
}

run "kit_from_secrets_manager" {
  command = apply

  variables {
    startup_kit_secret_arn = "arn:aws:secretsmanager:eu-west-2:111122223333:secret:site-a-kit-AbCdEf"
  }

  assert {
    condition     = strcontains(module.nvflare_client.user_data, "site-a-kit-AbCdEf") && !strcontains(module.nvflare_client.user_data, "startup-kit.zip")
    error_message = "With a secret ARN the kit must come from Secrets Manager, not from S3."
  }
}

run "refuses_dangerous_inputs" {
  # one plan, three bad values: XNAT open to the internet, a certificate that is not from ACM,
  # and a VPC too small to cut into the eight subnets
  command = plan

  variables {
    allowed_cidrs   = ["0.0.0.0/0"]
    certificate_arn = "arn:aws:iam::111122223333:server-certificate/xnat"
    vpc_cidr        = "10.20.0.0/24"
  }

  expect_failures = [var.allowed_cidrs, var.certificate_arn, var.vpc_cidr]
}
