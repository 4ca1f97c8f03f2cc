# The XNAT host: a private instance whose user-data installs XNAT (Tomcat 9, Java 8), the
# Container Service and OHIF plugins, and this suite's commands (`sarcoma-xnat xnat install`).
# Secrets are read at boot from Secrets Manager; none is rendered into user-data or state.

locals {
  suite_from_s3   = startswith(var.suite_package, "s3://")
  suite_s3_object = local.suite_from_s3 ? "arn:${local.partition}:s3:::${trimprefix(var.suite_package, "s3://")}" : null

  private_fqdn = "xnat.${var.private_zone_name}"
  # pinned artifacts: every file needs its SHA-256 in artifact_sha256 (checked at plan and at boot)
  artifact_files   = concat([basename(var.xnat_war_url)], [for u in var.plugin_urls : basename(u)])
  missing_checksum = [for f in local.artifact_files : f if !contains(keys(var.artifact_sha256), f)]

  user_data = templatefile("${path.module}/templates/user-data.sh.tftpl", {
    name                  = var.name
    region                = var.region
    data_path             = var.data_path
    efs_id                = aws_efs_file_system.archive.id
    db_address            = aws_db_instance.xnat.address
    db_secret_arn         = aws_db_instance.xnat.master_user_secret[0].secret_arn
    db_app_secret_arn     = aws_secretsmanager_secret.db_app.arn
    db_app_user           = var.db_app_user
    tls_ca_secret_arn     = aws_secretsmanager_secret.tls_ca.arn
    private_fqdn          = local.private_fqdn
    admin_user            = var.admin_user
    admin_secret_arn      = aws_secretsmanager_secret.admin.arn
    fl_reader_secret_arn  = aws_secretsmanager_secret.fl_reader.arn
    docker_tls_secret_arn = var.docker_tls_secret_arn
    docker_host           = var.docker_host_address
    site_url              = var.site_url
    admin_email           = var.admin_email
    projects              = distinct(concat([var.xnat_project], var.extra_projects))
    smtp_host             = var.smtp_host == null ? "" : var.smtp_host
    smtp_port             = var.smtp_port
    smtp_user             = var.smtp_user == null ? "" : var.smtp_user
    smtp_secret_arn       = var.smtp_secret_arn == null ? "" : var.smtp_secret_arn
    xnat_war_url          = var.xnat_war_url
    plugin_urls           = var.plugin_urls
    artifact_sha256       = var.artifact_sha256
    suite_package         = var.suite_package
    configure_script      = file("${path.module}/scripts/xnat-configure.sh")
  })
}

# ------------------------------------------------------------------ secrets filled at boot
resource "aws_secretsmanager_secret" "admin" {
  #checkov:skip=CKV2_AWS_57:The value is generated on the XNAT host at first boot and set in XNAT at the same time; a rotation Lambda would have to change the XNAT account too, which XNAT offers no hook for. Rotate by the runbook in terraform/README.md.
  name        = "${var.name}/xnat/admin"
  description = "XNAT named administrator (JSON: username, password), generated on the XNAT host at first boot"
  kms_key_id  = var.kms_key_arn
  tags        = var.tags
}

resource "aws_secretsmanager_secret" "fl_reader" {
  #checkov:skip=CKV2_AWS_57:Generated on the XNAT host at first boot together with the XNAT account it unlocks; rotation means re-creating that account (runbook in terraform/README.md).
  name        = "${var.name}/xnat/fl-reader"
  description = "XNAT account that the NVFlare client uses to read the curated project (JSON: host, user, password, ca_pem)"
  kms_key_id  = var.kms_key_arn
  tags        = var.tags
}

resource "aws_secretsmanager_secret" "db_app" {
  #checkov:skip=CKV2_AWS_57:XNAT reads its database password from xnat-conf.properties at start; the XNAT host sets this role's password from the secret at every boot, so a rotation is put-secret-value plus a reboot (runbook in terraform/README.md).
  name        = "${var.name}/xnat/db-app"
  description = "Password of XNAT's own PostgreSQL role (not the RDS master), generated on the XNAT host at first boot"
  kms_key_id  = var.kms_key_arn
  tags        = var.tags
}

resource "aws_secretsmanager_secret" "tls_ca" {
  #checkov:skip=CKV2_AWS_57:A CA certificate and key, generated once on the XNAT host; rotating it means re-issuing trust to every client (replace the secret value and reboot the XNAT and NVFlare hosts).
  name        = "${var.name}/xnat/tls-ca"
  description = "Site CA (JSON: cert, key) that signs the XNAT host's certificate for its private name; the NVFlare client trusts it"
  kms_key_id  = var.kms_key_arn
  tags        = var.tags
}

# ------------------------------------------------------------------ stable private name
resource "aws_route53_zone" "private" {
  #checkov:skip=CKV2_AWS_38:DNSSEC signing applies to public hosted zones only; this zone is private to the site VPC.
  #checkov:skip=CKV2_AWS_39:Route 53 query logging (aws_route53_query_log) is for public zones; queries in the VPC are visible through the VPC flow logs and Resolver query logging, which the network admin may enable.
  name    = var.private_zone_name
  comment = "sarcoma-xnat ${var.name}: stable names inside the site VPC"
  vpc {
    vpc_id = var.vpc_id
  }
  tags = var.tags
}

resource "aws_route53_record" "xnat" {
  zone_id = aws_route53_zone.private.zone_id
  name    = local.private_fqdn
  type    = "A"
  ttl     = 60
  records = [aws_instance.xnat.private_ip]
}

# ------------------------------------------------------------------ IAM
resource "aws_iam_role" "xnat" {
  name = "${var.name}-xnat-host"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "xnat_ssm" {
  role       = aws_iam_role.xnat.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_role_policy" "xnat" {
  name = "xnat-host"
  role = aws_iam_role.xnat.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([
      {
        Sid      = "ReadDatabaseAndDockerSecrets"
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
        Resource = compact([aws_db_instance.xnat.master_user_secret[0].secret_arn, var.docker_tls_secret_arn, var.smtp_secret_arn])
      },
      {
        Sid      = "FillOwnSecrets"
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue"]
        Resource = [aws_secretsmanager_secret.admin.arn, aws_secretsmanager_secret.fl_reader.arn, aws_secretsmanager_secret.db_app.arn, aws_secretsmanager_secret.tls_ca.arn]
      },
      {
        Sid      = "UseDataKey"
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource = [var.kms_key_arn]
      },
      ], local.suite_from_s3 ? [{
        Sid      = "ReadSuiteWheel"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = [local.suite_s3_object]
    }] : [])
  })
}

resource "aws_iam_instance_profile" "xnat" {
  name = "${var.name}-xnat-host"
  role = aws_iam_role.xnat.name
  tags = var.tags
}

# ------------------------------------------------------------------ instance
resource "aws_instance" "xnat" {
  ami                         = var.ami_id
  instance_type               = var.instance_type
  subnet_id                   = var.app_subnet_ids[0]
  vpc_security_group_ids      = [aws_security_group.xnat.id]
  iam_instance_profile        = aws_iam_instance_profile.xnat.name
  associate_public_ip_address = false
  monitoring                  = true
  ebs_optimized               = true
  # gzip: the configure script makes the script longer than EC2's 16 KB; cloud-init unpacks it
  user_data_base64            = base64gzip(local.user_data)
  user_data_replace_on_change = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  root_block_device {
    volume_type           = "gp3"
    volume_size           = var.root_volume_size
    encrypted             = true
    kms_key_id            = var.kms_key_arn
    delete_on_termination = true
  }

  tags = merge(var.tags, { Name = "${var.name}-xnat" })

  depends_on = [aws_efs_mount_target.archive]

  lifecycle {
    precondition {
      condition     = length(local.missing_checksum) == 0
      error_message = "artifact_sha256 has no SHA-256 for: ${join(", ", local.missing_checksum)} (every pinned XNAT artifact is verified at boot)."
    }
  }
}
