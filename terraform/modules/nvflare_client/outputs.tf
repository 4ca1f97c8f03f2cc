output "instance_id" {
  description = "ID of the NVFlare client (connect with SSM Session Manager)."
  value       = aws_instance.client.id
}

output "private_ip" {
  description = "Private IP of the client; the central FL server's security group must allow this site's FL subnet."
  value       = aws_instance.client.private_ip
}

output "role_arn" {
  description = "IAM role of the client (grant it KMS use if the startup kit is encrypted with another key)."
  value       = aws_iam_role.client.arn
}

output "security_group_id" {
  description = "Security group of the client (no ingress rules)."
  value       = aws_security_group.client.id
}

output "user_data" {
  description = "Rendered user-data of the client (no secret in it)."
  value       = local.user_data
}

output "role_name" {
  description = "IAM role of the client (the security baseline adds the CloudWatch agent and session logging)."
  value       = aws_iam_role.client.name
}
