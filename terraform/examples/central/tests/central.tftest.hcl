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
