# Security groups of the XNAT stack. Rules are separate resources so that the container_service
# and nvflare_client modules can add the rules that concern them (Docker host -> XNAT,
# NVFlare client -> XNAT) without editing this module.

locals {
  # from the region (not from an ARN): it must be known at plan time for for_each keys
  partition = startswith(var.region, "us-gov-") ? "aws-us-gov" : (startswith(var.region, "cn-") ? "aws-cn" : "aws")
  # ALB names are limited to 32 characters
  lb_name = "${var.name}-xnat"
}

resource "aws_security_group" "alb" {
  name        = "${var.name}-xnat-alb"
  description = "XNAT load balancer: HTTPS from the allowed networks, HTTPS to the XNAT host"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-xnat-alb" })
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each          = toset(var.allowed_cidrs)
  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from an allowed network"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_ingress_rule" "alb_http_redirect" {
  for_each          = toset(var.allowed_cidrs)
  security_group_id = aws_security_group.alb.id
  description       = "HTTP from an allowed network, answered only with a redirect to HTTPS"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "alb_to_xnat" {
  security_group_id            = aws_security_group.alb.id
  description                  = "HTTPS to the XNAT host (nginx re-encrypts in front of Tomcat)"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.xnat.id
}

resource "aws_security_group" "xnat" {
  name        = "${var.name}-xnat-host"
  description = "XNAT host: HTTPS from the load balancer and listed peers; out to RDS, EFS, Docker and HTTPS"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-xnat-host" })
}

resource "aws_vpc_security_group_ingress_rule" "xnat_from_alb" {
  security_group_id            = aws_security_group.xnat.id
  description                  = "HTTPS from the load balancer"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_vpc_security_group_egress_rule" "xnat_https" {
  # the first boot downloads from the internet; set internet_egress = false afterwards
  count             = var.internet_egress ? 1 : 0
  security_group_id = aws_security_group.xnat.id
  description       = "HTTPS out through the NAT gateway: XNAT and plugin downloads, OS packages, AWS APIs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# after bootstrap (internet_egress = false) the host reaches AWS only through the VPC's endpoints:
# S3 through the gateway endpoint (its policy admits only the study's buckets and AWS package
# buckets), every other AWS API through the interface endpoints
resource "aws_vpc_security_group_egress_rule" "xnat_s3" {
  security_group_id = aws_security_group.xnat.id
  description       = "HTTPS to S3 through the gateway endpoint (OS packages, the suite's wheel)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = var.s3_prefix_list_id
}

resource "aws_vpc_security_group_egress_rule" "xnat_endpoints" {
  security_group_id            = aws_security_group.xnat.id
  description                  = "HTTPS to the interface endpoints (SSM, Secrets Manager, KMS, Logs, CloudWatch)"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = var.endpoints_security_group_id
}

resource "aws_vpc_security_group_egress_rule" "xnat_to_db" {
  security_group_id            = aws_security_group.xnat.id
  description                  = "PostgreSQL to RDS"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.db.id
}

resource "aws_vpc_security_group_egress_rule" "xnat_to_efs" {
  security_group_id            = aws_security_group.xnat.id
  description                  = "NFS to the EFS archive"
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = aws_security_group.efs.id
}

resource "aws_security_group" "db" {
  name        = "${var.name}-xnat-db"
  description = "XNAT PostgreSQL: 5432 from the XNAT host only, no egress"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-xnat-db" })
}

resource "aws_vpc_security_group_ingress_rule" "db_from_xnat" {
  security_group_id            = aws_security_group.db.id
  description                  = "PostgreSQL from the XNAT host"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.xnat.id
}

resource "aws_security_group" "efs" {
  name        = "${var.name}-xnat-efs"
  description = "XNAT archive on EFS: NFS from the XNAT and Docker hosts only, no egress"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-xnat-efs" })
}

resource "aws_vpc_security_group_ingress_rule" "efs_from_xnat" {
  security_group_id            = aws_security_group.efs.id
  description                  = "NFS from the XNAT host"
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = aws_security_group.xnat.id
}
