# The Docker host of XNAT's Container Service: Docker API on TLS 2376 (mutual TLS) reachable from
# the XNAT host only; the XNAT archive mounted from EFS at the same path as on the XNAT host.
# The host makes its own CA, server and client certificates at first boot and puts the client
# bundle into a Secrets Manager secret that only it may write and only the XNAT host may read.

locals {
  partition = split(":", var.kms_key_arn)[1]
  user_data = templatefile("${path.module}/templates/user-data.sh.tftpl", {
    region         = var.region
    data_path      = var.data_path
    efs_id         = var.efs_id
    tls_secret_arn = aws_secretsmanager_secret.docker_tls.arn
    registry       = local.registry
    images         = var.images
  })
  registry = "${var.account_id}.dkr.ecr.${var.region}.amazonaws.com"
}

# ------------------------------------------------------------------ step images (ECR)
# One repository per step image, named as the command JSON names the image (sarcoma-xnat/deid, ...):
# tags are immutable, every push is scanned, layers are encrypted with the data key. The Docker
# host pulls the pinned tags at every boot and tags them with the names the commands use.
resource "aws_ecr_repository" "step" {
  for_each             = var.images
  name                 = each.key
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.kms_key_arn
  }

  tags = var.tags
}

resource "aws_ecr_lifecycle_policy" "step" {
  for_each   = aws_ecr_repository.step
  repository = each.value.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Drop untagged layers after 14 days (tagged, pinned images are kept)"
      selection    = { tagStatus = "untagged", countType = "sinceImagePushed", countUnit = "days", countNumber = 14 }
      action       = { type = "expire" }
    }]
  })
}

resource "aws_secretsmanager_secret" "docker_tls" {
  #checkov:skip=CKV2_AWS_57:The bundle is a client certificate made by the Docker host at boot, not a password; it is renewed by replacing the host (terraform apply -replace), which writes a new bundle.
  name        = "${var.name}/container-service/docker-tls"
  description = "Client TLS bundle for the Container Service Docker API (JSON: ca, cert, key)"
  kms_key_id  = var.kms_key_arn
  tags        = var.tags
}

# ------------------------------------------------------------------ network
resource "aws_security_group" "docker" {
  name        = "${var.name}-docker-host"
  description = "Container Service Docker host: TLS 2376 from the XNAT host only"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-docker-host" })
}

resource "aws_vpc_security_group_ingress_rule" "docker_api_from_xnat" {
  security_group_id            = aws_security_group.docker.id
  description                  = "Docker API over mutual TLS from the XNAT host"
  ip_protocol                  = "tcp"
  from_port                    = 2376
  to_port                      = 2376
  referenced_security_group_id = var.xnat_security_group_id
}

resource "aws_vpc_security_group_egress_rule" "docker_https" {
  # the first boot downloads from the internet; set internet_egress = false afterwards
  count             = var.internet_egress ? 1 : 0
  security_group_id = aws_security_group.docker.id
  description       = "HTTPS out through the NAT gateway: container images, OS packages, AWS APIs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# after bootstrap (internet_egress = false) the host reaches AWS only through the VPC's endpoints:
# S3 through the gateway endpoint (its policy admits only the study's buckets and AWS package
# buckets), every other AWS API through the interface endpoints
resource "aws_vpc_security_group_egress_rule" "docker_s3" {
  security_group_id = aws_security_group.docker.id
  description       = "HTTPS to S3 through the gateway endpoint (OS packages, ECR image layers)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = var.s3_prefix_list_id
}

resource "aws_vpc_security_group_egress_rule" "docker_endpoints" {
  security_group_id            = aws_security_group.docker.id
  description                  = "HTTPS to the interface endpoints (ECR, SSM, Secrets Manager, KMS, Logs)"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = var.endpoints_security_group_id
}

resource "aws_vpc_security_group_egress_rule" "docker_to_efs" {
  security_group_id            = aws_security_group.docker.id
  description                  = "NFS to the EFS archive"
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = var.efs_security_group_id
}

resource "aws_vpc_security_group_egress_rule" "docker_to_xnat" {
  security_group_id            = aws_security_group.docker.id
  description                  = "HTTPS from launched containers back to XNAT (processing URL)"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = var.xnat_security_group_id
}

resource "aws_vpc_security_group_ingress_rule" "efs_from_docker" {
  security_group_id            = var.efs_security_group_id
  description                  = "NFS from the Container Service Docker host"
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = aws_security_group.docker.id
}

resource "aws_vpc_security_group_egress_rule" "xnat_to_docker" {
  security_group_id            = var.xnat_security_group_id
  description                  = "Docker API over mutual TLS to the Container Service host"
  ip_protocol                  = "tcp"
  from_port                    = 2376
  to_port                      = 2376
  referenced_security_group_id = aws_security_group.docker.id
}

resource "aws_vpc_security_group_ingress_rule" "xnat_from_docker" {
  security_group_id            = var.xnat_security_group_id
  description                  = "HTTPS from containers launched by the Container Service"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.docker.id
}

# ------------------------------------------------------------------ IAM
resource "aws_iam_role" "docker" {
  name = "${var.name}-docker-host"
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

resource "aws_iam_role_policy_attachment" "docker_ssm" {
  role       = aws_iam_role.docker.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_role_policy" "docker" {
  name = "docker-host"
  role = aws_iam_role.docker.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "WriteTlsBundle"
        Effect   = "Allow"
        Action   = ["secretsmanager:PutSecretValue", "secretsmanager:DescribeSecret"]
        Resource = [aws_secretsmanager_secret.docker_tls.arn]
      },
      {
        Sid      = "EcrLogin"
        Effect   = "Allow"
        Action   = ["ecr:GetAuthorizationToken"]
        Resource = ["*"]
      },
      {
        Sid      = "PullStepImages"
        Effect   = "Allow"
        Action   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
        Resource = [for r in aws_ecr_repository.step : r.arn]
      },
      {
        Sid      = "EncryptTlsBundle"
        Effect   = "Allow"
        Action   = ["kms:GenerateDataKey", "kms:Decrypt"]
        Resource = [var.kms_key_arn]
      },
    ]
  })
}

resource "aws_iam_instance_profile" "docker" {
  name = "${var.name}-docker-host"
  role = aws_iam_role.docker.name
  tags = var.tags
}

# ------------------------------------------------------------------ instance
resource "aws_instance" "docker" {
  ami                         = var.ami_id
  instance_type               = var.instance_type
  subnet_id                   = var.subnet_id
  vpc_security_group_ids      = [aws_security_group.docker.id]
  iam_instance_profile        = aws_iam_instance_profile.docker.name
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

  tags = merge(var.tags, { Name = "${var.name}-docker-host" })
}
