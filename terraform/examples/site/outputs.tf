output "alb_dns_name" {
  description = "Point the DNS name of site_url at this load balancer name (CNAME or Route 53 alias)."
  value       = module.xnat.alb_dns_name
}

output "data_bucket" {
  description = "The site's private bucket: upload the startup kit here (SSE-KMS with data_key_arn)."
  value       = module.dicom_bucket.bucket_id
}

output "data_key_arn" {
  description = "KMS key of the site's data (use it for the startup-kit upload)."
  value       = local.data_key_arn
}

output "fl_subnet_cidrs" {
  description = "FL subnets of this site: give them to the study lead for the central server's client_cidrs."
  value       = slice(local.subnet, 4, 6)
}

output "nat_public_ip" {
  description = "Address the XNAT side appears from on the internet (for allow-lists of artifact mirrors)."
  value       = module.network.nat_public_ip
}

output "nvflare_client_instance_id" {
  description = "Instance ID of the NVFlare client (SSM Session Manager)."
  value       = module.nvflare_client.instance_id
}

output "transit_gateway_attachment_id" {
  description = "Transit Gateway attachment of this site: the study lead accepts it."
  value       = module.network.transit_gateway_attachment_id
}

output "xnat_private_url" {
  description = "XNAT's stable URL inside the site VPC (Route 53 private zone, certificate from the site CA)."
  value       = "https://${module.xnat.private_fqdn}"
}

output "xnat_admin_secret_arn" {
  description = "Secret with the named XNAT administrator (JSON: username, password; filled at first boot)."
  value       = module.xnat.admin_secret_arn
}

output "xnat_instance_id" {
  description = "Instance ID of the XNAT host (SSM Session Manager)."
  value       = module.xnat.instance_id
}

output "ecr_repository_urls" {
  description = "ECR repository of each step image: push the pinned tags there before the Docker host boots (or re-run sarcoma-pull-images on it)."
  value       = { for n, r in module.container_service.ecr_repositories : n => r.url }
}
