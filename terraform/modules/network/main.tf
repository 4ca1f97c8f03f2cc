# VPC with four subnet tiers:
#   public  - load balancer and NAT gateway only (no instance gets a public IP)
#   app     - XNAT and Docker hosts; default route to the NAT gateway when enabled
#   fl      - NVFlare client/server; no internet route, only the Transit Gateway routes
#   data    - RDS and EFS; no route out of the VPC
# plus flow logs, a locked-down default security group, an S3 gateway endpoint and
# interface endpoints for the AWS APIs the private hosts use.

locals {
  tiers = {
    public = var.public_subnet_cidrs
    app    = var.app_subnet_cidrs
    fl     = var.fl_subnet_cidrs
    data   = var.data_subnet_cidrs
  }
  subnets = merge([
    for tier, cidrs in local.tiers : {
      for i, cidr in cidrs : "${tier}-${i}" => {
        tier = tier
        cidr = cidr
        az   = var.availability_zones[i % length(var.availability_zones)]
      }
    }
  ]...)
  private_tiers = [for t in ["app", "fl", "data"] : t if length(local.tiers[t]) > 0]
  # interface endpoints live in the FL subnets when there are some (the hosts without internet),
  # otherwise in the app subnets
  endpoint_tier = length(var.fl_subnet_cidrs) > 0 ? "fl" : "app"
  endpoint_subnet_ids = [
    for key, s in local.subnets : aws_subnet.this[key].id if s.tier == local.endpoint_tier
  ]
}

resource "aws_vpc" "this" {
  cidr_block           = var.cidr_block
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = merge(var.tags, { Name = var.name })
}

# the default security group allows nothing; every host gets its own group
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-default-deny" })
}

resource "aws_subnet" "this" {
  for_each = local.subnets

  vpc_id                  = aws_vpc.this.id
  cidr_block              = each.value.cidr
  availability_zone       = each.value.az
  map_public_ip_on_launch = false
  tags                    = merge(var.tags, { Name = "${var.name}-${each.key}", Tier = each.value.tier })
}

# ---------------------------------------------------------------- public tier and NAT
resource "aws_internet_gateway" "this" {
  count  = length(var.public_subnet_cidrs) > 0 ? 1 : 0
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = var.name })
}

resource "aws_route_table" "public" {
  count  = length(var.public_subnet_cidrs) > 0 ? 1 : 0
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-public" })
}

resource "aws_route" "public_internet" {
  count                  = length(var.public_subnet_cidrs) > 0 ? 1 : 0
  route_table_id         = aws_route_table.public[0].id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this[0].id
}

resource "aws_eip" "nat" {
  count  = var.enable_nat_gateway ? 1 : 0
  domain = "vpc"
  tags   = merge(var.tags, { Name = "${var.name}-nat" })
}

resource "aws_nat_gateway" "this" {
  count         = var.enable_nat_gateway ? 1 : 0
  allocation_id = aws_eip.nat[0].id
  subnet_id     = aws_subnet.this["public-0"].id
  tags          = merge(var.tags, { Name = var.name })
  depends_on    = [aws_internet_gateway.this]
}

# ---------------------------------------------------------------- private tiers
resource "aws_route_table" "private" {
  for_each = toset(local.private_tiers)
  vpc_id   = aws_vpc.this.id
  tags     = merge(var.tags, { Name = "${var.name}-${each.key}", Tier = each.key })
}

resource "aws_route" "app_nat" {
  count                  = var.enable_nat_gateway && length(var.app_subnet_cidrs) > 0 ? 1 : 0
  route_table_id         = aws_route_table.private["app"].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[0].id
}

resource "aws_route_table_association" "this" {
  for_each       = local.subnets
  subnet_id      = aws_subnet.this[each.key].id
  route_table_id = each.value.tier == "public" ? aws_route_table.public[0].id : aws_route_table.private[each.value.tier].id
}

# ---------------------------------------------------------------- Transit Gateway
resource "aws_ec2_transit_gateway_vpc_attachment" "this" {
  count = var.attach_transit_gateway ? 1 : 0

  transit_gateway_id = var.transit_gateway_id
  vpc_id             = aws_vpc.this.id
  subnet_ids         = [for key, s in local.subnets : aws_subnet.this[key].id if s.tier == "fl"]
  dns_support        = "enable"
  # only in the gateway owner's account: the hub attachment joins explicit route tables instead
  transit_gateway_default_route_table_association = var.transit_gateway_default_route_tables
  transit_gateway_default_route_table_propagation = var.transit_gateway_default_route_tables
  tags                                            = merge(var.tags, { Name = var.name })
}

resource "aws_route" "fl_transit" {
  for_each = var.attach_transit_gateway ? toset(var.transit_gateway_routes) : toset([])

  route_table_id         = aws_route_table.private["fl"].id
  destination_cidr_block = each.value
  transit_gateway_id     = var.transit_gateway_id
  depends_on             = [aws_ec2_transit_gateway_vpc_attachment.this]
}

# ---------------------------------------------------------------- VPC endpoints
locals {
  s3_partition = startswith(var.region, "us-gov-") ? "aws-us-gov" : (startswith(var.region, "cn-") ? "aws-cn" : "aws")
  # AWS-owned buckets the private hosts read through the gateway endpoint: Amazon Linux 2023
  # package repositories, ECR image layers, and SSM agent / Distributor packages (AWS documentation:
  # "Amazon Linux 2023 repositories", "Amazon ECR interface VPC endpoints - S3 gateway endpoint",
  # "SSM Agent communications with AWS managed S3 buckets")
  aws_owned_buckets = [
    "al2023-repos-${var.region}-de612dc2",
    "prod-${var.region}-starport-layer-bucket",
    "amazon-ssm-${var.region}",
    "amazon-ssm-packages-${var.region}",
    "aws-ssm-${var.region}",
    "aws-ssm-distributor-file-${var.region}",
    "aws-ssm-document-attachments-${var.region}",
    "${var.region}-birdwatcher-prod",
  ]
  s3_endpoint_policy = var.s3_endpoint_bucket_names == null ? null : jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "StudyBucketsOnly"
        Effect    = "Allow"
        Principal = { AWS = "*" }
        Action    = ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:ListBucket", "s3:GetBucketLocation", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
        Resource = flatten([for b in var.s3_endpoint_bucket_names : [
          "arn:${local.s3_partition}:s3:::${b}", "arn:${local.s3_partition}:s3:::${b}/*",
        ]])
        Condition = { StringEquals = { "aws:PrincipalAccount" = var.account_id } }
      },
      {
        Sid       = "AwsOwnedPackageBucketsReadOnly"
        Effect    = "Allow"
        Principal = { AWS = "*" }
        Action    = ["s3:GetObject"]
        Resource  = [for b in local.aws_owned_buckets : "arn:${local.s3_partition}:s3:::${b}/*"]
      },
    ]
  })
}

resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${var.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [for t in local.private_tiers : aws_route_table.private[t].id]
  policy            = local.s3_endpoint_policy
  tags              = merge(var.tags, { Name = "${var.name}-s3" })
}

resource "aws_security_group" "endpoints" {
  name        = "${var.name}-vpc-endpoints"
  description = "HTTPS from inside the VPC to the interface VPC endpoints"
  vpc_id      = aws_vpc.this.id
  tags        = merge(var.tags, { Name = "${var.name}-vpc-endpoints" })
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_https" {
  security_group_id = aws_security_group.endpoints.id
  description       = "HTTPS from hosts in this VPC"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = aws_vpc.this.cidr_block
}

resource "aws_vpc_endpoint" "interface" {
  for_each = length(local.endpoint_subnet_ids) > 0 ? toset(var.interface_endpoints) : toset([])

  vpc_id              = aws_vpc.this.id
  service_name        = "com.amazonaws.${var.region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids          = local.endpoint_subnet_ids
  security_group_ids  = [aws_security_group.endpoints.id]
  tags                = merge(var.tags, { Name = "${var.name}-${each.key}" })
}

# ---------------------------------------------------------------- flow logs
resource "aws_cloudwatch_log_group" "flow" {
  name              = "/vpc/${var.name}/flow-logs"
  retention_in_days = var.flow_log_retention_days
  kms_key_id        = var.flow_log_kms_key_arn
  tags              = var.tags
}

resource "aws_iam_role" "flow" {
  name = "${var.name}-vpc-flow-logs"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "vpc-flow-logs.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "flow" {
  name = "write-flow-logs"
  role = aws_iam_role.flow.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
      Resource = ["${aws_cloudwatch_log_group.flow.arn}:*"]
    }]
  })
}

resource "aws_flow_log" "this" {
  vpc_id               = aws_vpc.this.id
  traffic_type         = "ALL"
  log_destination_type = "cloud-watch-logs"
  log_destination      = aws_cloudwatch_log_group.flow.arn
  iam_role_arn         = aws_iam_role.flow.arn
  tags                 = var.tags
}
