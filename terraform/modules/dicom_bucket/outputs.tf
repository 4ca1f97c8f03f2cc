output "bucket_arn" {
  description = "ARN of the data bucket (grant s3:GetObject on <arn>/<prefix>* to readers)."
  value       = aws_s3_bucket.data.arn
}

output "bucket_id" {
  description = "Name of the data bucket."
  value       = aws_s3_bucket.data.id
}

output "log_bucket_id" {
  description = "Name of the access-log bucket; the ALB writes under the prefix alb/."
  value       = aws_s3_bucket.logs.id
}
