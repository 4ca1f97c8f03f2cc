output "instance_id" {
  description = "ID of the FL server (connect with SSM Session Manager)."
  value       = aws_instance.server.id
}

output "private_ip" {
  description = "Private IP of the FL server (the sites' fl_server_ip)."
  value       = aws_instance.server.private_ip
}

output "security_group_id" {
  description = "Security group of the FL server."
  value       = aws_security_group.server.id
}

output "user_data" {
  description = "Rendered user-data of the FL server (no secret in it)."
  value       = local.user_data
}

output "role_name" {
  description = "IAM role of the server (the security baseline adds the CloudWatch agent and session logging)."
  value       = aws_iam_role.server.name
}
