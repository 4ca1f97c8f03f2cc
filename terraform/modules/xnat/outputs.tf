output "admin_secret_arn" {
  description = "Secrets Manager secret with the XNAT admin password (filled at first boot)."
  value       = aws_secretsmanager_secret.admin.arn
}

output "alb_dns_name" {
  description = "DNS name of the load balancer; point site_url's host name at it (CNAME or alias)."
  value       = aws_lb.this.dns_name
}

output "db_address" {
  description = "Host name of the PostgreSQL instance."
  value       = aws_db_instance.xnat.address
}

output "db_master_secret_arn" {
  description = "Secrets Manager secret that RDS manages for the database master password."
  value       = aws_db_instance.xnat.master_user_secret[0].secret_arn
}

output "efs_id" {
  description = "ID of the EFS file system holding the archive."
  value       = aws_efs_file_system.archive.id
}

output "efs_security_group_id" {
  description = "Security group of the EFS mount targets (the Docker host adds its NFS rule to it)."
  value       = aws_security_group.efs.id
}

output "fl_reader_secret_arn" {
  description = "Secrets Manager secret with the XNAT account of the NVFlare client (filled at first boot)."
  value       = aws_secretsmanager_secret.fl_reader.arn
}

output "instance_id" {
  description = "ID of the XNAT host (connect with SSM Session Manager)."
  value       = aws_instance.xnat.id
}

output "private_ip" {
  description = "Private IP of the XNAT host (the processing URL containers and the NVFlare client use)."
  value       = aws_instance.xnat.private_ip
}

output "security_group_id" {
  description = "Security group of the XNAT host."
  value       = aws_security_group.xnat.id
}

output "private_fqdn" {
  description = "Stable private name of XNAT in the site VPC (Route 53 private zone); the FL client and containers use it."
  value       = local.private_fqdn
}

output "private_zone_id" {
  description = "ID of the Route 53 private hosted zone of the site VPC."
  value       = aws_route53_zone.private.zone_id
}

output "tls_ca_secret_arn" {
  description = "Secrets Manager secret with the site CA that signs the XNAT host's certificate."
  value       = aws_secretsmanager_secret.tls_ca.arn
}

output "user_data" {
  description = "Rendered user-data of the XNAT host (no secret in it: secrets are fetched at boot)."
  value       = local.user_data
}

output "user_data_base64" {
  description = "The user-data as EC2 receives it (gzip, base64)."
  value       = base64gzip(local.user_data)
}

output "web_acl_arn" {
  description = "ARN of the WAF web ACL in front of the load balancer."
  value       = aws_wafv2_web_acl.this.arn
}

output "health_check" {
  description = "ARN suffixes of the load balancer and XNAT target group, for the HealthyHostCount alarm."
  value = {
    load_balancer = aws_lb.this.arn_suffix
    target_group  = aws_lb_target_group.xnat.arn_suffix
  }
}

output "role_name" {
  description = "IAM role of the XNAT host (the security baseline adds the CloudWatch agent and session logging)."
  value       = aws_iam_role.xnat.name
}

output "egress" {
  description = "Where the XNAT host may send HTTPS (rule description -> CIDR, prefix list or security group)."
  value = merge(
    { for r in aws_vpc_security_group_egress_rule.xnat_https : r.description => r.cidr_ipv4 },
    { (aws_vpc_security_group_egress_rule.xnat_s3.description) = aws_vpc_security_group_egress_rule.xnat_s3.prefix_list_id },
    { (aws_vpc_security_group_egress_rule.xnat_endpoints.description) = aws_vpc_security_group_egress_rule.xnat_endpoints.referenced_security_group_id },
  )
}
