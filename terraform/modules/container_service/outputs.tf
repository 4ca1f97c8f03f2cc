output "instance_id" {
  description = "ID of the Docker host (connect with SSM Session Manager)."
  value       = aws_instance.docker.id
}

output "private_ip" {
  description = "Private IP of the Docker host; XNAT's Container Service connects to https://<ip>:2376."
  value       = aws_instance.docker.private_ip
}

output "security_group_id" {
  description = "Security group of the Docker host."
  value       = aws_security_group.docker.id
}

output "tls_secret_arn" {
  description = "Secrets Manager secret with the Docker client TLS bundle (written by the host at first boot)."
  value       = aws_secretsmanager_secret.docker_tls.arn
}

output "user_data" {
  description = "Rendered user-data of the Docker host (no secret in it)."
  value       = local.user_data
}

output "ecr_repositories" {
  description = "Each step image's ECR repository: url (push the pinned tag there), tag_mutability, scan_on_push, encryption."
  value = { for n, r in aws_ecr_repository.step : n => {
    url            = r.repository_url
    tag_mutability = r.image_tag_mutability
    scan_on_push   = r.image_scanning_configuration[0].scan_on_push
    encryption     = r.encryption_configuration[0].encryption_type
  } }
}

output "role_name" {
  description = "IAM role of the Docker host (the security baseline adds the CloudWatch agent and session logging)."
  value       = aws_iam_role.docker.name
}

output "egress" {
  description = "Where the Docker host may send HTTPS (rule description -> CIDR, prefix list or security group)."
  value = merge(
    { for r in aws_vpc_security_group_egress_rule.docker_https : r.description => r.cidr_ipv4 },
    { (aws_vpc_security_group_egress_rule.docker_s3.description) = aws_vpc_security_group_egress_rule.docker_s3.prefix_list_id },
    { (aws_vpc_security_group_egress_rule.docker_endpoints.description) = aws_vpc_security_group_egress_rule.docker_endpoints.referenced_security_group_id },
  )
}
