#!/bin/bash
# Post-apply smoke test of a site: run on the XNAT host (aws ssm start-session --target <xnat_instance_id>,
# then sudo bash smoke-test.sh). Reports each component's state; exits 1 if any check fails.
set -uo pipefail
ENV=/etc/sarcoma-xnat/configure.env
FAIL=0
ok() { echo "OK    $1"; }
bad() { echo "FAIL  $1"; FAIL=1; }
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi; }

[ -r "$ENV" ] || { echo "no $ENV: is this the XNAT host, and did the bootstrap run?" >&2; exit 2; }
set -a && . "$ENV" && set +a

check "bootstrap finished" grep -q "XNAT bootstrap finished" /var/log/sarcoma-xnat-bootstrap.log
check "configure record present" test -s "$STATE_FILE"
check "tomcat9 running" systemctl is-active tomcat9
check "nginx running" systemctl is-active nginx
check "archive mounted (EFS)" findmnt -t nfs4 /data/xnat
check "certificate valid for 30 days" openssl x509 -checkend 2592000 -noout -in /etc/pki/sarcoma-xnat/xnat.crt
check "private name resolves" getent hosts "${FL_HOST#https://}"

ADMIN_PASS=$(aws secretsmanager get-secret-value --secret-id "$ADMIN_SECRET" --query SecretString --output text | jq -r .password)
export XNAT_HOST=$XNAT_URL XNAT_USER=$ADMIN_USER XNAT_PASS=$ADMIN_PASS REQUESTS_CA_BUNDLE=$CA_FILE
check "XNAT answers with the private name's certificate" curl -fsS --cacert "$CA_FILE" -u "$ADMIN_USER:$ADMIN_PASS" "$FL_HOST/xapi/siteConfig/buildInfo"
check "default admin refused" test "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA_FILE" -u admin:admin "$XNAT_URL/xapi/siteConfig/buildInfo")" = 401
check "sarcoma-xnat xnat whoami" "$SUITE_CMD" xnat whoami
check "suite installed (dry run changes nothing)" sh -c "\"$SUITE_CMD\" xnat install --project \"${PROJECTS%% *}\" --dry-run | grep -q 'already installed'"
check "event subscriptions" "$SUITE_CMD" xnat subscriptions
check "Docker host reachable from the Container Service" curl -fsS --cacert "$CA_FILE" -u "$ADMIN_USER:$ADMIN_PASS" "$XNAT_URL/xapi/docker/server/ping"
FL_JSON=$(aws secretsmanager get-secret-value --secret-id "$FL_READER_SECRET" --query SecretString --output text)
check "fl_reader logs in with its secret" curl -fsS --cacert "$CA_FILE" -u "$(jq -r .user <<<"$FL_JSON"):$(jq -r .password <<<"$FL_JSON")" "$FL_HOST/data/projects/${PROJECTS%% *}?format=json"
unset ADMIN_PASS XNAT_PASS FL_JSON
echo "configure steps that changed something on the last boot:"
jq -r 'select(.result != "unchanged") | "  \(.step): \(.detail)"' "$STATE_FILE"
[ "$FAIL" = 0 ] && echo "smoke test passed" || echo "smoke test FAILED"
exit "$FAIL"
