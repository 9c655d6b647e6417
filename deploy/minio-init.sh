#!/bin/sh
# Prepares MinIO for the platform (the minio-init service of deploy/compose.yaml;
# runs in the minio/minio image, which ships `mc`). Idempotent: safe on every `up`.
#
# 1. Creates the bucket with object lock. S3 can switch object lock on only when a
#    bucket is created, so the bucket must exist with it before the first
#    record is written. The app's ensure_bucket() would also create it with
#    object lock on first use; doing it here means that the app's own MinIO user
#    needs no right to create buckets, and that a bucket made by hand without
#    lock is caught at start-up instead of when the first dossier is filed.
# 2. Refuses to go on if an existing bucket has no object lock.
# 3. Creates the app's MinIO user (S3_ACCESS_KEY/S3_SECRET_KEY) with a policy
#    limited to that bucket, which cannot bypass GOVERNANCE retention, delete the
#    bucket or change its policy. The root credentials stay with the operator.
#
# No bucket default retention is set: the app puts the retention on each record
# it writes (docs/storage.md says which mode and how long).
set -eu

: "${S3_BUCKET:?S3_BUCKET is not set}"
: "${MINIO_URL:=http://minio:9000}"
export MC_CONFIG_DIR=/tmp/.mc

secret() { cat "/run/secrets/$1"; }

app_user=$(secret s3_access_key)
mc alias set etender "$MINIO_URL" "$(secret minio_root_user)" "$(secret minio_root_password)" >/dev/null

mc mb --ignore-existing --with-lock "etender/$S3_BUCKET"
if ! mc retention info --default "etender/$S3_BUCKET" >/dev/null 2>&1; then
  echo "minio-init: bucket $S3_BUCKET exists without object lock; records could be deleted." >&2
  echo "minio-init: create a new bucket with 'mc mb --with-lock' and copy the objects over (docs/operations.md)." >&2
  exit 1
fi

policy=/tmp/etender-app-policy.json
cat >"$policy" <<EOF
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["s3:*"],
      "Resource": ["arn:aws:s3:::$S3_BUCKET", "arn:aws:s3:::$S3_BUCKET/*"]
    },
    {
      "Effect": "Deny",
      "Action": [
        "s3:BypassGovernanceRetention",
        "s3:DeleteBucket",
        "s3:PutBucketPolicy",
        "s3:DeleteBucketPolicy"
      ],
      "Resource": ["arn:aws:s3:::$S3_BUCKET", "arn:aws:s3:::$S3_BUCKET/*"]
    }
  ]
}
EOF

# `user add` on an existing user only resets its secret key to the same value.
mc admin user add etender "$app_user" "$(secret s3_secret_key)" >/dev/null
mc admin policy create etender etender-app "$policy" >/dev/null
# `policy attach` fails when the policy is already attached: accept that case only.
# (No grep: the minio image is a minimal one.)
if ! mc admin policy attach etender etender-app --user "$app_user" >/dev/null 2>&1; then
  case "$(mc admin user info etender "$app_user")" in
    *etender-app*) ;;
    *) echo "minio-init: could not attach policy etender-app to $app_user" >&2; exit 1 ;;
  esac
fi

echo "minio-init: bucket $S3_BUCKET has object lock; user $app_user has policy etender-app."
