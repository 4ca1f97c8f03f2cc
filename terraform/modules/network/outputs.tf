output "app_subnet_ids" {
  description = "IDs of the private application subnets."
  value       = [for key, s in local.subnets : aws_subnet.this[key].id if s.tier == "app"]
}

output "cidr_block" {
  description = "CIDR of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "data_subnet_ids" {
  description = "IDs of the isolated data subnets."
  value       = [for key, s in local.subnets : aws_subnet.this[key].id if s.tier == "data"]
}

output "endpoints_security_group_id" {
  description = "Security group of the interface VPC endpoints (hosts allow HTTPS egress to it)."
  value       = aws_security_group.endpoints.id
}

output "fl_subnet_ids" {
  description = "IDs of the federated-learning subnets."
  value       = [for key, s in local.subnets : aws_subnet.this[key].id if s.tier == "fl"]
}

output "nat_public_ip" {
  description = "Public IP of the NAT gateway (null without one): the address the XNAT side appears from."
  value       = var.enable_nat_gateway ? aws_eip.nat[0].public_ip : null
}

output "public_subnet_ids" {
  description = "IDs of the public subnets (load balancer only)."
  value       = [for key, s in local.subnets : aws_subnet.this[key].id if s.tier == "public"]
}

output "s3_prefix_list_id" {
  description = "Prefix list of the S3 gateway endpoint, for security-group egress rules to S3."
  value       = aws_vpc_endpoint.s3.prefix_list_id
}

output "transit_gateway_attachment_id" {
  description = "ID of the Transit Gateway VPC attachment (null without one); the Transit Gateway owner accepts it."
  value       = var.attach_transit_gateway ? aws_ec2_transit_gateway_vpc_attachment.this[0].id : null
}

output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "s3_endpoint_policy" {
  description = "Policy of the S3 gateway endpoint (JSON; null when every bucket is allowed)."
  value       = aws_vpc_endpoint.s3.policy
}
