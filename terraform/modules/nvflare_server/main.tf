# The study's central NVFlare server: a private instance that accepts gRPC (mutual TLS) only from
# the sites' FL subnets over the Transit Gateway, and reaches only S3 (gateway endpoint) and the
# AWS APIs (interface endpoints). Its startup kit is fetched at boot from the KMS-encrypted bucket.

locals {
  partition   = split(":", var.kms_key_arn)[1]
  bucket_name = split(":::", var.artifact_bucket_arn)[1]
  read_objects = concat(
    ["${var.artifact_bucket_arn}/${var.startup_kit_s3_key}"],
    var.wheelhouse_prefix != null ? ["${var.artifact_bucket_arn}/${var.wheelhouse_prefix}*"] : [],
    ["${var.artifact_bucket_arn}/${var.validation_archive_prefix}*"],
  )
  admin_port = var.fl_ports[length(var.fl_ports) - 1]
  user_data = templatefile("${path.module}/templates/user-data.sh.tftpl", {
    state_prefix       = var.state_prefix
    region             = var.region
    bucket             = local.bucket_name
    kit_s3_key         = var.startup_kit_s3_key
    wheelhouse_prefix  = var.wheelhouse_prefix
    server_fqdn        = var.server_fqdn
    validation_prefix  = var.validation_archive_prefix
    validation_project = var.validation_project
  })
}

resource "aws_security_group" "server" {
  name        = "${var.name}-nvflare-server"
  description = "NVFlare server: FL ports from the sites' FL subnets only; egress to S3 and VPC endpoints"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-nvflare-server" })
}

resource "aws_vpc_security_group_ingress_rule" "fl" {
  for_each = {
    for pair in setproduct(var.client_cidrs, var.fl_ports) : "${pair[0]}:${pair[1]}" => { cidr = pair[0], port = pair[1] }
  }
  security_group_id = aws_security_group.server.id
  description       = "gRPC with mutual TLS from a site's FL subnet (port ${each.value.port})"
  ip_protocol       = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port
  cidr_ipv4         = each.value.cidr
}

# the lead's admin console: the admin port (the single port of FLARE 2.7+, or the second one)
# from the lead's own networks only; SSM port forwarding needs no rule at all
resource "aws_vpc_security_group_ingress_rule" "admin" {
  for_each          = toset(var.admin_cidrs)
  security_group_id = aws_security_group.server.id
  description       = "NVFlare admin console (mutual TLS) from the study lead's network"
  ip_protocol       = "tcp"
  from_port         = local.admin_port
  to_port           = local.admin_port
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "s3" {
  security_group_id = aws_security_group.server.id
  description       = "HTTPS to S3 through the gateway endpoint (startup kit, wheels, models)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = var.s3_prefix_list_id
}

resource "aws_vpc_security_group_egress_rule" "endpoints" {
  security_group_id            = aws_security_group.server.id
  description                  = "HTTPS to the interface endpoints (SSM, KMS, Logs)"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = var.endpoints_security_group_id
}

resource "aws_iam_role" "server" {
  name = "${var.name}-nvflare-server"
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

resource "aws_iam_role_policy_attachment" "server_ssm" {
  role       = aws_iam_role.server.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_role_policy" "server" {
  name = "nvflare-server"
  role = aws_iam_role.server.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ReadKitAndWheels"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = local.read_objects
      },
      {
        Sid      = "ListValidationArchive"
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = [var.artifact_bucket_arn]
        Condition = {
          StringLike = { "s3:prefix" = ["${var.validation_archive_prefix}*"] }
        }
      },
      {
        Sid      = "PersistStateAndGlobalModels"
        Effect   = "Allow"
        Action   = ["s3:PutObject", "s3:GetObject"]
        Resource = ["${var.artifact_bucket_arn}/models/*", "${var.artifact_bucket_arn}/${var.state_prefix}*"]
      },
      {
        Sid       = "ListStateAndModels"
        Effect    = "Allow"
        Action    = ["s3:ListBucket"]
        Resource  = [var.artifact_bucket_arn]
        Condition = { StringLike = { "s3:prefix" = ["models/*", "${var.state_prefix}*"] } }
      },
      {
        Sid      = "UseKey"
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource = [var.kms_key_arn]
      },
    ]
  })
}

resource "aws_iam_instance_profile" "server" {
  name = "${var.name}-nvflare-server"
  role = aws_iam_role.server.name
  tags = var.tags
}

resource "aws_instance" "server" {
  ami                         = var.ami_id
  instance_type               = var.instance_type
  subnet_id                   = var.subnet_id
  private_ip                  = var.private_ip
  vpc_security_group_ids      = [aws_security_group.server.id]
  iam_instance_profile        = aws_iam_instance_profile.server.name
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
    volume_size           = 50
    encrypted             = true
    kms_key_id            = var.kms_key_arn
    delete_on_termination = true
  }

  tags = merge(var.tags, { Name = "${var.name}-nvflare-server" })
}
