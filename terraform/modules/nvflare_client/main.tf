# The site's NVFlare client: a private instance without internet access that only dials out -
# to the central FL server's port(s) through the Transit Gateway, to S3 through the gateway
# endpoint, to the AWS APIs through interface endpoints, and to the site's XNAT host.
# No ingress rule at all. The startup kit (it holds the site's private key) is fetched at boot
# from a KMS-encrypted S3 object or from Secrets Manager; it is never in user-data or state.

locals {
  partition   = split(":", var.kms_key_arn)[1]
  bucket_name = split(":::", var.data_bucket_arn)[1]
  read_prefixes = compact(concat(
    var.data_read_prefixes,
    var.wheelhouse_prefix != null ? [var.wheelhouse_prefix] : [],
  ))
  read_objects = concat(
    [for p in local.read_prefixes : "${var.data_bucket_arn}/${p}*"],
    var.startup_kit_s3_key != null ? ["${var.data_bucket_arn}/${var.startup_kit_s3_key}"] : [],
  )
  secret_arns = compact([var.xnat_reader_secret_arn, var.startup_kit_secret_arn])

  user_data = templatefile("${path.module}/templates/user-data.sh.tftpl", {
    region             = var.region
    bucket             = local.bucket_name
    kit_s3_key         = var.startup_kit_s3_key
    kit_secret_arn     = var.startup_kit_secret_arn
    wheelhouse_prefix  = var.wheelhouse_prefix
    site_name          = var.site_name
    fl_server_fqdn     = var.fl_server_fqdn
    fl_server_ip       = var.fl_server_ip
    xnat_project       = var.xnat_project
    xnat_reader_secret = var.xnat_reader_secret_arn
    authorization_json = jsonencode(local.authorization)
    privacy_json       = var.privacy_policy == null ? null : jsonencode(var.privacy_policy)
  })

  # NVFlare federated authorization for this site (local/authorization.json): rights per role of
  # the admin users' certificates; "o:site" = only users of this site's organisation
  authorization = {
    format_version = "1.0"
    permissions = {
      project_admin = var.authorization_lead_rights
      lead          = var.authorization_lead_rights
      org_admin = {
        submit_job = "none", clone_job = "none", manage_job = "o:submitter", download_job = "o:submitter",
        view       = "any", operate = "o:site", shell_commands = "o:site", byoc = "none"
      }
      member = { view = "any" }
    }
  }
}

# ------------------------------------------------------------------ network: egress only
resource "aws_security_group" "client" {
  name        = "${var.name}-nvflare-client"
  description = "NVFlare client: no ingress; egress only to the FL server, S3, VPC endpoints and XNAT"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-nvflare-client" })
}

resource "aws_vpc_security_group_egress_rule" "fl_server" {
  for_each          = toset([for p in var.fl_ports : tostring(p)])
  security_group_id = aws_security_group.client.id
  description       = "gRPC with mutual TLS to the central FL server (port ${each.value}) over the Transit Gateway"
  ip_protocol       = "tcp"
  from_port         = tonumber(each.value)
  to_port           = tonumber(each.value)
  cidr_ipv4         = "${var.fl_server_ip}/32"
}

resource "aws_vpc_security_group_egress_rule" "s3" {
  security_group_id = aws_security_group.client.id
  description       = "HTTPS to S3 through the gateway endpoint (startup kit, wheels, curated data)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = var.s3_prefix_list_id
}

resource "aws_vpc_security_group_egress_rule" "endpoints" {
  security_group_id            = aws_security_group.client.id
  description                  = "HTTPS to the interface endpoints (SSM, Secrets Manager, KMS, Logs)"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = var.endpoints_security_group_id
}

resource "aws_vpc_security_group_egress_rule" "xnat" {
  security_group_id            = aws_security_group.client.id
  description                  = "HTTPS to the site's XNAT host (read the curated project)"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = var.xnat_security_group_id
}

resource "aws_vpc_security_group_ingress_rule" "xnat_from_client" {
  security_group_id            = var.xnat_security_group_id
  description                  = "HTTPS from the site's NVFlare client"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.client.id
}

# ------------------------------------------------------------------ IAM: read the kit and the data, nothing else
resource "aws_iam_role" "client" {
  name = "${var.name}-nvflare-client"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "client_ssm" {
  role       = aws_iam_role.client.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_role_policy" "client" {
  name = "nvflare-client"
  role = aws_iam_role.client.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ReadSiteObjects"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = local.read_objects
      },
      {
        Sid      = "ListSitePrefixes"
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = [var.data_bucket_arn]
        Condition = {
          StringLike = { "s3:prefix" = [for p in local.read_prefixes : "${p}*"] }
        }
      },
      {
        Sid      = "ReadSiteSecrets"
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue"]
        Resource = local.secret_arns
      },
      {
        Sid      = "DecryptSiteData"
        Effect   = "Allow"
        Action   = ["kms:Decrypt"]
        Resource = [var.kms_key_arn]
      },
    ]
  })
}

resource "aws_iam_instance_profile" "client" {
  name = "${var.name}-nvflare-client"
  role = aws_iam_role.client.name
  tags = var.tags
}

# ------------------------------------------------------------------ instance
resource "aws_instance" "client" {
  ami                         = var.ami_id
  instance_type               = var.instance_type
  subnet_id                   = var.subnet_id
  vpc_security_group_ids      = [aws_security_group.client.id]
  iam_instance_profile        = aws_iam_instance_profile.client.name
  associate_public_ip_address = false
  monitoring                  = true
  ebs_optimized               = true
  user_data                   = local.user_data
  user_data_replace_on_change = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  root_block_device {
    volume_type           = "gp3"
    volume_size           = var.root_volume_size
    encrypted             = true
    kms_key_id            = var.kms_key_arn
    delete_on_termination = true
  }

  tags = merge(var.tags, { Name = "${var.name}-nvflare-client", NVFlareSite = var.site_name })
}
