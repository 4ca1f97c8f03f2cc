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
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:eu-west-2:111122223333:site-a-alerts" }
  }
  mock_resource "aws_iam_policy" {
    defaults = { arn = "arn:aws:iam::111122223333:policy/mock" }
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

run "security_review_items" {
  # one apply checks the baseline, the alarms, the S3 endpoint policy and the FL client's service
  command = apply

  variables {
    alert_emails = ["oncall@site-a.example.org"]
  }

  assert {
    condition = alltrue([
      module.security_baseline.controls.trail.multi_region,
      module.security_baseline.controls.trail.log_file_validation,
      startswith(module.security_baseline.controls.trail.kms_key_id, "arn:aws:kms:"),
      module.security_baseline.controls.guardduty,
      module.security_baseline.controls.config_recording,
      module.security_baseline.controls.audit_bucket_object_lock == "GOVERNANCE",
    ])
    error_message = "CloudTrail must be multi-region with log file validation and KMS; GuardDuty and AWS Config must be on."
  }

  assert {
    condition     = length(setsubtract(["CLOUD_TRAIL_ENABLED", "EC2_IMDSV2_CHECK", "ENCRYPTED_VOLUMES", "INCOMING_SSH_DISABLED", "VPC_FLOW_LOGS_ENABLED", "S3_BUCKET_SSL_REQUESTS_ONLY", "EC2_INSTANCE_MANAGED_BY_SSM"], module.security_baseline.controls.config_rules)) == 0
    error_message = "The AWS Config rules must cover trail, IMDSv2, encryption, SSH, flow logs, TLS-only buckets and SSM management."
  }

  assert {
    condition = alltrue([
      module.security_baseline.controls.session_logging.cloudWatchEncryptionEnabled,
      module.security_baseline.controls.session_logging.cloudWatchLogGroupName == "/sarcoma-xnat/site-a/ssm-sessions",
      startswith(module.security_baseline.controls.session_logging.kmsKeyId, "arn:aws:kms:"),
      module.security_baseline.controls.session_logging.idleSessionTimeout == "20",
    ])
    error_message = "Session Manager sessions must be encrypted, logged and time out."
  }

  assert {
    condition = alltrue([
      length(module.security_baseline.alarm_names.cpu) == 3,
      length(module.security_baseline.alarm_names.disk) == 3,
      module.security_baseline.alarm_names.xnat_health == ["site-a-xnat-unhealthy"],
      module.security_baseline.alarm_names.fl_heartbeat == ["site-a-fl-client-site-a-silent"],
      length(module.security_baseline.controls.agent_targets) == 3,
    ])
    error_message = "Each host needs the CloudWatch agent, a CPU and a disk alarm; XNAT's health check and the FL client's heartbeat need alarms."
  }

  assert {
    condition     = module.security_baseline.controls.budget.notifications == ["ACTUAL:80", "FORECASTED:100"] && module.security_baseline.controls.budget.limit == "1500"
    error_message = "The budget must alert at 80 % actual and 100 % forecast spend."
  }

  assert {
    condition = alltrue([
      for st in jsondecode(module.network.s3_endpoint_policy).Statement :
      st.Effect == "Allow" && alltrue([for r in st.Resource : can(regex("^arn:aws:s3:::(site-a-sarcoma-data|al2023-repos-eu-west-2-de612dc2|prod-eu-west-2-starport-layer-bucket|amazon-ssm-eu-west-2|amazon-ssm-packages-eu-west-2|aws-ssm-eu-west-2|aws-ssm-distributor-file-eu-west-2|aws-ssm-document-attachments-eu-west-2|eu-west-2-birdwatcher-prod)(/\\*)?$", r))])
    ])
    error_message = "The S3 gateway endpoint may admit only the study's bucket and the AWS package and image-layer buckets."
  }

  assert {
    condition     = contains(values(module.xnat.egress), "0.0.0.0/0") && contains(values(module.container_service.egress), "0.0.0.0/0")
    error_message = "Until the bootstrap is done (host_internet_egress = true) the XNAT and Docker hosts need HTTPS to the internet."
  }

  assert {
    condition = alltrue([
      strcontains(module.nvflare_client.user_data, "User=sarcoma-fl"),
      strcontains(module.nvflare_client.user_data, "ExecStartPre=+/usr/local/sbin/sarcoma-fl-credentials"),
      strcontains(module.nvflare_client.user_data, "NETRC=/run/sarcoma-fl/netrc"),
      !strcontains(module.nvflare_client.user_data, "XNAT_PASS"),
      strcontains(module.nvflare_client.user_data, "\"byoc\":\"none\""),
      strcontains(module.nvflare_client.user_data, "\"shell_commands\":\"none\""),
      strcontains(module.nvflare_client.user_data, "--metric-name FLClientHeartbeat --dimensions Site=site-a"),
    ])
    error_message = "The FL client must run unprivileged with XNAT credentials in a file, deny the lead custom code and shell commands, and send a heartbeat."
  }
}

run "egress_closed_after_bootstrap" {
  command = plan

  variables {
    host_internet_egress = false
  }

  assert {
    condition     = length(module.xnat.egress) == 2 && length(module.container_service.egress) == 2
    error_message = "With host_internet_egress = false the XNAT and Docker hosts keep only the S3 endpoint and the interface endpoints."
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
