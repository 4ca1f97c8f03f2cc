terraform {
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0, < 6.0"
    }
  }

  # Keep state in an encrypted, versioned S3 bucket with locking, e.g. with
  #   terraform init -backend-config=backend.hcl
  # where backend.hcl holds bucket, key, region, encrypt = true, use_lockfile = true.
  # backend "s3" {}
}
