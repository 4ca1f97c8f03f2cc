# The XNAT host: a private instance whose user-data installs XNAT (Tomcat 9, Java 8), the
# Container Service and OHIF plugins, and this suite's commands (`sarcoma-xnat xnat install`).
# Secrets are read at boot from Secrets Manager; none is rendered into user-data or state.

locals {
  suite_from_s3   = startswith(var.suite_package, "s3://")
  suite_s3_object = local.suite_from_s3 ? "arn:${local.partition}:s3:::${trimprefix(var.suite_package, "s3://")}" : null

  user_data = templatefile("${path.module}/templates/user-data.sh.tftpl", {
    region                = var.region
    data_path             = var.data_path
    efs_id                = aws_efs_file_system.archive.id
    db_address            = aws_db_instance.xnat.address
    db_secret_arn         = aws_db_instance.xnat.master_user_secret[0].secret_arn
    admin_secret_arn      = aws_secretsmanager_secret.admin.arn
    fl_reader_secret_arn  = aws_secretsmanager_secret.fl_reader.arn
    docker_tls_secret_arn = var.docker_tls_secret_arn
    docker_host           = var.docker_host_address
    site_url              = var.site_url
    admin_email           = var.admin_email
    xnat_project          = var.xnat_project
    xnat_war_url          = var.xnat_war_url
    plugin_urls           = var.plugin_urls
    artifact_sha256       = var.artifact_sha256
    suite_package         = var.suite_package
  })
}

# ------------------------------------------------------------------ secrets filled at boot
resource "aws_secretsmanager_secret" "admin" {
  #checkov:skip=CKV2_AWS_57:The value is generated on the XNAT host at first boot and set in XNAT at the same time; a rotation Lambda would have to change the XNAT account too, which XNAT offers no hook for. Rotate by the runbook in terraform/README.md.
  name        = "${var.name}/xnat/admin"
  description = "XNAT admin password, generated on the XNAT host at first boot"
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
        Resource = [aws_db_instance.xnat.master_user_secret[0].secret_arn, var.docker_tls_secret_arn]
      },
      {
        Sid      = "FillOwnSecrets"
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue"]
        Resource = [aws_secretsmanager_secret.admin.arn, aws_secretsmanager_secret.fl_reader.arn]
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
  user_data                   = local.user_data
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
}
