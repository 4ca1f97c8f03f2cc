# terraform test for the central root, against a mocked AWS provider.
# Run from terraform/examples/central: terraform init -backend=false && terraform test

mock_provider "aws" {
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-2:444455556666:log-group:mock" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::444455556666:role/mock" }
  }
  mock_resource "aws_ram_resource_share" {
    defaults = { arn = "arn:aws:ram:eu-west-2:444455556666:resource-share/11111111-2222-3333-4444-555555555555" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:eu-west-2:444455556666:central-alerts" }
  }
  mock_resource "aws_iam_policy" {
    defaults = { arn = "arn:aws:iam::444455556666:policy/mock" }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:eu-west-2:444455556666:key/11111111-2222-3333-4444-555555555555" }
  }
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::sarcoma-study-fl-artifacts" }
  }
  mock_resource "aws_ec2_transit_gateway" {
    defaults = { id = "tgw-0123456789abcdef0", arn = "arn:aws:ec2:eu-west-2:444455556666:transit-gateway/tgw-0123456789abcdef0" }
  }
}

variables {
  account_id           = "444455556666"
  region               = "eu-west-2"
  availability_zones   = ["eu-west-2a", "eu-west-2b"]
  vpc_cidr             = "10.99.4.0/23"
  artifact_bucket_name = "sarcoma-study-fl-artifacts"
  server_fqdn          = "fl.sarcoma-study.example.org"
  nvflare_ami_id       = "ami-0fedcba9876543210"
  site_account_ids     = ["111122223333", "777788889999"]
  site_fl_cidrs        = ["10.20.8.0/23", "10.30.8.0/23"]
}

run "central_applies_with_mocks" {
  command = apply

  variables {
    site_attachment_ids = ["tgw-attach-0aaaaaaaaaaaaaaaa", "tgw-attach-0bbbbbbbbbbbbbbbb"]
    onprem_sites        = { site-c = { public_ip = "198.51.100.7", bgp_asn = 65010, fl_cidr = "10.40.8.0/24" } }
  }

  assert {
    condition = alltrue([
      aws_ec2_transit_gateway.study.default_route_table_association == "disable",
      aws_ec2_transit_gateway.study.default_route_table_propagation == "disable",
      aws_ec2_transit_gateway_route_table_association.hub.transit_gateway_route_table_id == aws_ec2_transit_gateway_route_table.hub.id,
      aws_ec2_transit_gateway_route_table_propagation.hub_to_spokes.transit_gateway_route_table_id == aws_ec2_transit_gateway_route_table.spokes.id,
      length(aws_ec2_transit_gateway_route_table_association.sites) == 2,
      alltrue([for a in aws_ec2_transit_gateway_route_table_association.sites : a.transit_gateway_route_table_id == aws_ec2_transit_gateway_route_table.spokes.id]),
      alltrue([for p in aws_ec2_transit_gateway_route_table_propagation.sites_to_hub : p.transit_gateway_route_table_id == aws_ec2_transit_gateway_route_table.hub.id]),
      aws_ec2_transit_gateway_route_table_association.onprem["site-c"].transit_gateway_route_table_id == aws_ec2_transit_gateway_route_table.spokes.id,
      aws_ec2_transit_gateway_route.onprem["site-c"].transit_gateway_route_table_id == aws_ec2_transit_gateway_route_table.hub.id,
    ])
    error_message = "Hub and spoke: sites (VPC or VPN) sit in the spoke table, which only the central VPC propagates into; only the hub table knows the sites."
  }

  assert {
    condition     = aws_vpn_connection.onprem["site-c"].static_routes_only && aws_vpn_connection.onprem["site-c"].tunnel1_ike_versions == toset(["ikev2"]) && contains(local.client_cidrs, "10.40.8.0/24")
    error_message = "An on-prem site joins by an IKEv2 Site-to-Site VPN and its FL network may reach the server."
  }

  assert {
    condition = alltrue([
      strcontains(module.nvflare_server.user_data, "/usr/local/sbin/sarcoma-fl-state restore"),
      strcontains(module.nvflare_server.user_data, "DEST=\"s3://sarcoma-study-fl-artifacts/state/\""),
      strcontains(module.nvflare_server.user_data, "ExecStopPost=/usr/local/sbin/sarcoma-fl-state save"),
      strcontains(module.nvflare_server.user_data, "s3://sarcoma-study-fl-artifacts/models/"),
    ])
    error_message = "The FL server must restore its state from S3 at boot, save it periodically and at stop, and copy the global models to models/."
  }

  assert {
    condition     = strcontains(aws_iam_policy.fl_admin_console.policy, "AWS-StartPortForwardingSession") && module.security_baseline.controls.trail.multi_region && module.security_baseline.alarm_names.cpu == ["sarcoma-fl-nvflare_server-cpu-high"]
    error_message = "The lead reaches the admin console through SSM port forwarding; the central account has its trail and alarms."
  }

  assert {
    condition     = output.fl_server_ip == "10.99.4.10"
    error_message = "Host 10 of the first FL subnet 10.99.4.0/24 is 10.99.4.10."
  }

  assert {
    condition     = aws_ec2_transit_gateway.study.auto_accept_shared_attachments == "disable"
    error_message = "The study Transit Gateway must not accept attachments by itself."
  }

  assert {
    condition     = length(aws_ram_principal_association.sites) == 2
    error_message = "The Transit Gateway must be shared with each site account."
  }

  assert {
    condition     = strcontains(module.nvflare_server.user_data, "sarcoma-xnat fl server") && strcontains(module.nvflare_server.user_data, "nvflare/server-startup-kit.zip")
    error_message = "The server must start this suite's FL server from the kit fetched at boot."
  }

  assert {
    condition     = !strcontains(module.nvflare_server.user_data, "PRIVATE KEY-----")
    error_message = "The server's user-data must not carry key material."
  }
}

run "refuses_dangerous_inputs" {
  # FL ports open to the internet, and a server address AWS reserves in the subnet
  command = plan

  variables {
    site_fl_cidrs      = ["0.0.0.0/0"]
    server_host_number = 2
  }

  expect_failures = [var.site_fl_cidrs, var.server_host_number]
}
