output "artifact_bucket" {
  description = "Central private bucket: upload the server startup kit here (SSE-KMS with data_key_arn)."
  value       = module.artifact_bucket.bucket_id
}

output "data_key_arn" {
  description = "KMS key of the central data."
  value       = local.data_key_arn
}

output "fl_server_fqdn" {
  description = "Give to each site as fl_server_fqdn."
  value       = var.server_fqdn
}

output "fl_server_ip" {
  description = "Give to each site as fl_server_ip."
  value       = local.server_ip
}

output "server_instance_id" {
  description = "Instance ID of the FL server (SSM Session Manager)."
  value       = module.nvflare_server.instance_id
}

output "transit_gateway_id" {
  description = "Give to each site as transit_gateway_id (shared with their accounts through AWS RAM)."
  value       = aws_ec2_transit_gateway.study.id
}

output "vpc_cidr" {
  description = "CIDR of the central VPC."
  value       = var.vpc_cidr
}

output "alert_topic_arn" {
  description = "SNS topic of the central alarms and budget alerts."
  value       = module.security_baseline.alert_topic_arn
}

output "fl_admin_console_policy_arn" {
  description = "IAM policy to attach to the lead's role: SSM port forwarding to the FL server's admin port."
  value       = aws_iam_policy.fl_admin_console.arn
}

output "transit_gateway_route_tables" {
  description = "Hub (central VPC) and spoke (sites) route tables of the Transit Gateway."
  value = {
    hub    = aws_ec2_transit_gateway_route_table.hub.id
    spokes = aws_ec2_transit_gateway_route_table.spokes.id
  }
}

output "vpn_connections" {
  description = "Site-to-Site VPN connection IDs of the on-prem sites (download each device configuration from the VPC console)."
  value       = { for k, v in aws_vpn_connection.onprem : k => v.id }
}
