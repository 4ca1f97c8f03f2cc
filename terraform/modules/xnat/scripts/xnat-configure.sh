#!/bin/bash
# sarcoma-xnat: bring a running XNAT to the state the site needs, idempotently.
#
# Run by the XNAT host's user-data on every boot (and by an admin at any time). Every step first
# reads the current state through XNAT's REST API and changes only what differs, so a second run
# changes nothing. What each step did is recorded in $STATE_FILE (JSON lines: step, result, detail).
#
# Configuration comes from the environment (the user-data writes /etc/sarcoma-xnat/configure.env):
#   XNAT_URL          XNAT as this host reaches it, e.g. https://127.0.0.1
#   CA_FILE           CA bundle for XNAT_URL (optional)
#   SITE_URL          public URL of the site (siteUrl)
#   ADMIN_EMAIL       site administrator's e-mail (adminEmail, account e-mails)
#   ADMIN_USER        named administrator that replaces the default 'admin'
#   ADMIN_SECRET      Secrets Manager secret of ADMIN_USER: {"username","password"}; generated if empty
#   PROJECTS          curated project IDs to create (space-separated); the first is the FL project
#   FL_READER_USER    read-only account of the NVFlare client (default fl_reader)
#   FL_READER_SECRET  Secrets Manager secret {host,user,password,ca_pem} the FL client reads
#   FL_HOST           the stable URL the FL client uses (https://xnat.<private zone>)
#   FL_CA_FILE        CA certificate the FL client must trust (its PEM goes into FL_READER_SECRET)
#   DOCKER_HOST_URL   Container Service backend, e.g. https://10.0.2.10:2376 (optional)
#   DOCKER_CERT_PATH  folder with the Docker client bundle (ca.pem, cert.pem, key.pem)
#   SMTP_HOST, SMTP_PORT, SMTP_USER, SMTP_SECRET   SMTP relay (optional; SMTP_SECRET holds the password)
#   SUITE_PROJECT     project for `sarcoma-xnat xnat install` (default: first of PROJECTS)
#   SUITE_CMD         the sarcoma-xnat executable (default sarcoma-xnat)
#   STATE_FILE        where the record goes (default /var/lib/sarcoma-xnat/configure.jsonl)
#
# XNAT endpoints used (NrgXnat/xnat-web unless noted):
#   users, roles, enabled flag:  src/main/java/org/nrg/xapi/rest/users/UsersApi.java
#     (GET /xapi/users lists logins; POST /xapi/users creates, 201; PUT /xapi/users/{u} updates,
#     304 when nothing changed; GET|PUT /xapi/users/{u}/enabled[/{flag}]; GET /xapi/users/{u}/roles;
#     PUT /xapi/users/{u}/roles/{role})
#   site settings:  src/main/java/org/nrg/xapi/rest/settings/SiteConfigApi.java (GET /xapi/siteConfig;
#     POST /xapi/siteConfig with a map; `initialized: true` in the same map initialises the site)
#   SMTP:  src/main/java/org/nrg/xapi/rest/notifications/NotificationsApi.java
#     (GET /xapi/notifications/smtp; POST /xapi/notifications/smtp with the request parameters
#     hostname, port, username, password and protocol)
#   projects:  src/main/java/org/nrg/xnat/restlet/resources/ProjectResource.java (PUT /data/projects/{p})
#   project access:  src/main/java/org/nrg/xnat/restlet/resources/ProjectUserListResource.java
#     (GET /data/projects/{p}/users: GROUP_ID, displayname, login of enabled accounts) and
#     ProjectMemberResource.java (PUT /data/projects/{p}/users/Collaborators/{u}; read-only group,
#     wiki project-user-access-api)
#   Docker backend:  NrgXnat/container-service src/main/java/org/nrg/containers/rest/DockerRestApi.java
#     (GET|POST /xapi/docker/server; fields of model/server/docker/DockerServerBase.java)
#   ContainerManager role:  NrgXnat/container-service src/main/java/org/nrg/containers/utils/ContainerUtils.java
#     (CONTAINER_MANAGER_ROLE, required from CS 3.7 by security/ContainerManagerUserAuthorization.java;
#     CS grants it at start-up only while no user has it, so a later named admin must be given it)
set -euo pipefail

: "${XNAT_URL:?}" "${SITE_URL:?}" "${ADMIN_EMAIL:?}" "${ADMIN_USER:?}" "${ADMIN_SECRET:?}" "${PROJECTS:?}"
FL_READER_USER=${FL_READER_USER:-fl_reader}
SUITE_PROJECT=${SUITE_PROJECT:-${PROJECTS%% *}}
SUITE_CMD=${SUITE_CMD:-sarcoma-xnat}
STATE_FILE=${STATE_FILE:-/var/lib/sarcoma-xnat/configure.jsonl}
WAIT_TRIES=${WAIT_TRIES:-120}
WAIT_SLEEP=${WAIT_SLEEP:-15}

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
chmod 700 "$WORK"
mkdir -p "$(dirname "$STATE_FILE")"
: > "$STATE_FILE.tmp"
CHANGES=0

record() { # record STEP changed|unchanged DETAIL
  jq -cn --arg step "$1" --arg result "$2" --arg detail "$3" '{step: $step, result: $result, detail: $detail}' >> "$STATE_FILE.tmp"
  [ "$2" = unchanged ] || CHANGES=$((CHANGES + 1))
  echo "sarcoma-xnat configure: $1: $2${3:+ ($3)}"
}

secret_get() { aws secretsmanager get-secret-value --secret-id "$1" --query SecretString --output text 2>/dev/null || true; }
secret_put() { # secret_put ID FILE (the value never appears on a command line)
  aws secretsmanager put-secret-value --secret-id "$1" --secret-string "file://$2" >/dev/null
}
new_password() { openssl rand -base64 33 | tr -d '/+=\n' | cut -c1-32; }

login() { # login NAME USER PASSWORD: a curl config file, so no password is on a command line
  [ -n "$2" ] || { : > "$WORK/$1.cfg"; return; }
  jq -rn --arg u "$2:$3" '"user = \"" + ($u | gsub("\\\\"; "\\\\\\\\") | gsub("\""; "\\\"")) + "\""' > "$WORK/$1.cfg"
}

# api AS METHOD PATH [curl args...]: body in $WORK/body, HTTP status in $CODE
api() {
  local as=$1 method=$2 path=$3
  shift 3
  local ca=()
  [ -n "${CA_FILE:-}" ] && ca=(--cacert "$CA_FILE")
  CODE=$(curl -sS "${ca[@]}" -K "$WORK/$as.cfg" -X "$method" -o "$WORK/body" -w '%{http_code}' "$@" "$XNAT_URL$path") || CODE=000
}
need() { # need CODE...: fail unless $CODE is one of them
  local ok
  for ok in "$@"; do [ "$CODE" = "$ok" ] && return 0; done
  echo "sarcoma-xnat configure: unexpected HTTP $CODE: $(head -c 300 "$WORK/body" 2>/dev/null)" >&2
  exit 1
}
can_login() { api "$1" GET /xapi/siteConfig/buildInfo; [ "$CODE" = 200 ]; }
json_post() { api "$1" "$2" "$3" -H 'Content-Type: application/json' --data-binary "@$4"; }

# ---------------------------------------------------------------- 0. XNAT answers
login anon "" ""
for _ in $(seq 1 "$WAIT_TRIES"); do
  api anon GET /xapi/siteConfig/buildInfo
  case $CODE in 200 | 401) break ;; esac
  sleep "$WAIT_SLEEP"
done
case $CODE in 200 | 401) ;; *) echo "sarcoma-xnat configure: XNAT did not answer at $XNAT_URL" >&2; exit 1 ;; esac

# ---------------------------------------------------------------- 1. named administrator
ADMIN_JSON=$(secret_get "$ADMIN_SECRET")
ADMIN_PASS=$(jq -r '.password? // empty' <<<"$ADMIN_JSON" 2>/dev/null || true)
if [ -z "$ADMIN_PASS" ]; then
  # stored before XNAT is touched: a crash after this point finds the same password next time
  ADMIN_PASS=$(new_password)
  jq -n --arg u "$ADMIN_USER" --arg p "$ADMIN_PASS" '{username: $u, password: $p}' > "$WORK/admin.json"
  secret_put "$ADMIN_SECRET" "$WORK/admin.json"
  record admin-secret changed "generated the password of $ADMIN_USER"
else
  record admin-secret unchanged "$ADMIN_USER"
fi
login admin "$ADMIN_USER" "$ADMIN_PASS"
if can_login admin; then
  record admin-user unchanged "$ADMIN_USER logs in"
else
  login default admin admin
  can_login default || { echo "sarcoma-xnat configure: neither $ADMIN_USER nor the default admin can log in" >&2; exit 1; }
  api default GET /xapi/users
  need 200
  jq -n --arg u "$ADMIN_USER" --arg p "$ADMIN_PASS" --arg e "$ADMIN_EMAIL" \
    '{username: $u, password: $p, firstName: "Site", lastName: "Administrator", email: $e, enabled: true, verified: true}' > "$WORK/user.json"
  if jq -e --arg u "$ADMIN_USER" 'index($u) != null' "$WORK/body" >/dev/null; then
    json_post default PUT "/xapi/users/$ADMIN_USER" "$WORK/user.json"
    need 200 304
    record admin-user changed "reset the password of $ADMIN_USER"
  else
    json_post default POST /xapi/users "$WORK/user.json"
    need 200 201
    record admin-user changed "created $ADMIN_USER"
  fi
fi
rm -f "$WORK/user.json" "$WORK/admin.json"
login default admin admin
api admin GET "/xapi/users/$ADMIN_USER/roles"
need 200
cp "$WORK/body" "$WORK/roles.json"
# until the named admin holds Administrator, the default admin grants the roles
AS=admin
jq -e 'index("Administrator") != null' "$WORK/roles.json" >/dev/null || AS=default
for role in Administrator ContainerManager; do
  if jq -e --arg r "$role" 'index($r) != null' "$WORK/roles.json" >/dev/null; then
    record "role-$role" unchanged "$ADMIN_USER"
  else
    api "$AS" PUT "/xapi/users/$ADMIN_USER/roles/$role"
    need 200
    record "role-$role" changed "granted to $ADMIN_USER"
  fi
done
can_login admin || { echo "sarcoma-xnat configure: $ADMIN_USER cannot log in after its creation" >&2; exit 1; }

# ---------------------------------------------------------------- 2. site settings
api admin GET /xapi/siteConfig
need 200
jq -n --arg url "$SITE_URL" --arg email "$ADMIN_EMAIL" \
  '{siteUrl: $url, adminEmail: $email, requireLogin: true, userRegistration: false, initialized: true}' > "$WORK/want.json"
jq -c --slurpfile want "$WORK/want.json" \
  '. as $have | $want[0] | with_entries(select(($have[.key] | tostring) != (.value | tostring)))' \
  "$WORK/body" > "$WORK/diff.json"
if [ "$(cat "$WORK/diff.json")" = "{}" ]; then
  record site-config unchanged "initialized, $SITE_URL"
else
  # 'initialized' travels with the other settings: SiteConfigApi sets it last, after them
  json_post admin POST /xapi/siteConfig "$WORK/diff.json"
  need 200
  record site-config changed "set $(jq -r 'keys | join(",")' "$WORK/diff.json")"
fi

if [ -n "${SMTP_HOST:-}" ]; then
  api admin GET /xapi/notifications/smtp
  need 200
  if jq -e --arg h "$SMTP_HOST" --arg p "${SMTP_PORT:-587}" --arg u "${SMTP_USER:-}" \
      '(.host | tostring) == $h and (.port | tostring) == $p and ((.username // "") | tostring) == $u' "$WORK/body" >/dev/null; then
    record smtp unchanged "$SMTP_HOST"
  else
    SMTP_PASS=""
    [ -n "${SMTP_SECRET:-}" ] && SMTP_PASS=$(secret_get "$SMTP_SECRET")
    printf '%s' "$SMTP_PASS" > "$WORK/smtp"  # read by curl from a file: not on a command line
    api admin POST /xapi/notifications/smtp --data-urlencode "hostname=$SMTP_HOST" \
      --data-urlencode "port=${SMTP_PORT:-587}" --data-urlencode "username=${SMTP_USER:-}" \
      --data-urlencode "password@$WORK/smtp" --data-urlencode "protocol=smtp"
    rm -f "$WORK/smtp"
    need 200
    unset SMTP_PASS
    record smtp changed "$SMTP_HOST:${SMTP_PORT:-587}"
  fi
fi

# ---------------------------------------------------------------- 3. default accounts off
api admin GET /xapi/users
need 200
cp "$WORK/body" "$WORK/users.json"
for user in admin guest; do
  [ "$user" = "$ADMIN_USER" ] && continue
  if ! jq -e --arg u "$user" 'index($u) != null' "$WORK/users.json" >/dev/null; then
    record "disable-$user" unchanged "no such account"
    continue
  fi
  api admin GET "/xapi/users/$user/enabled"
  need 200
  if [ "$(cat "$WORK/body")" = false ]; then
    record "disable-$user" unchanged "disabled"
  else
    api admin PUT "/xapi/users/$user/enabled/false"
    need 200
    record "disable-$user" changed "disabled"
  fi
done

# ---------------------------------------------------------------- 4. curated projects
for project in $PROJECTS; do
  api admin GET "/data/projects/$project?format=json"
  if [ "$CODE" = 200 ]; then
    record "project-$project" unchanged "exists"
  else
    need 404
    api admin PUT "/data/projects/$project?xsiType=xnat:projectData&xnat:projectData/secondary_ID=$project&xnat:projectData/name=$project"
    need 200 201
    record "project-$project" changed "created"
  fi
done

# ---------------------------------------------------------------- 5. FL reader, read-only
if [ -n "${FL_READER_SECRET:-}" ]; then
  FL_JSON=$(secret_get "$FL_READER_SECRET")
  FL_PASS=$(jq -r '.password? // empty' <<<"$FL_JSON" 2>/dev/null || true)
  [ -n "$FL_PASS" ] || FL_PASS=$(new_password)
  jq -n --arg u "$FL_READER_USER" --arg p "$FL_PASS" --arg e "$ADMIN_EMAIL" \
    '{username: $u, password: $p, firstName: "NVFlare", lastName: "Client", email: $e, enabled: true, verified: true}' > "$WORK/user.json"
  login reader "$FL_READER_USER" "$FL_PASS"
  if ! jq -e --arg u "$FL_READER_USER" 'index($u) != null' "$WORK/users.json" >/dev/null; then
    json_post admin POST /xapi/users "$WORK/user.json"
    need 200 201
    record fl-reader changed "created $FL_READER_USER"
  elif can_login reader; then
    record fl-reader unchanged "$FL_READER_USER logs in"
  else
    json_post admin PUT "/xapi/users/$FL_READER_USER" "$WORK/user.json"
    need 200 304
    record fl-reader changed "reset the password of $FL_READER_USER"
  fi
  rm -f "$WORK/user.json"
  api admin GET "/data/projects/$SUITE_PROJECT/users?format=json"
  need 200
  # rows of ProjectUserListResource: GROUP_ID, displayname, login, ... (enabled accounts only)
  GROUPS_OF=$(jq -r --arg u "$FL_READER_USER" '[.ResultSet.Result[]? | select(.login == $u) | .displayname] | join(" ")' "$WORK/body")
  if [ "$GROUPS_OF" = Collaborators ]; then
    record fl-reader-access unchanged "collaborator of $SUITE_PROJECT"
  else
    # one group per project: PUT moves the account into Collaborators (read and download only)
    api admin PUT "/data/projects/$SUITE_PROJECT/users/Collaborators/$FL_READER_USER"
    need 200
    record fl-reader-access changed "collaborator of $SUITE_PROJECT (was: ${GROUPS_OF:-none})"
  fi
  jq -n --arg host "${FL_HOST:-$XNAT_URL}" --arg u "$FL_READER_USER" --arg p "$FL_PASS" \
    --rawfile ca "${FL_CA_FILE:-/dev/null}" '{host: $host, user: $u, password: $p, ca_pem: $ca}' > "$WORK/fl.json"
  if [ -n "$FL_JSON" ] && jq -e --slurpfile want "$WORK/fl.json" '. == $want[0]' <<<"$FL_JSON" >/dev/null 2>&1; then
    record fl-reader-secret unchanged "$FL_HOST"
  else
    secret_put "$FL_READER_SECRET" "$WORK/fl.json"
    record fl-reader-secret changed "host ${FL_HOST:-$XNAT_URL}"
  fi
  rm -f "$WORK/fl.json"
  unset FL_JSON FL_PASS
fi

# ---------------------------------------------------------------- 6. Container Service backend
if [ -n "${DOCKER_HOST_URL:-}" ]; then
  api admin GET /xapi/docker/server
  need 200
  if jq -e --arg h "$DOCKER_HOST_URL" --arg c "${DOCKER_CERT_PATH:-}" '.host == $h and (."cert-path" // "") == $c' "$WORK/body" >/dev/null; then
    record docker-server unchanged "$DOCKER_HOST_URL"
  else
    jq -n --arg h "$DOCKER_HOST_URL" --arg c "${DOCKER_CERT_PATH:-}" \
      '{name: "docker-host", host: $h, "cert-path": $c, "swarm-mode": false, "path-translation-xnat-prefix": "", "path-translation-docker-prefix": ""}' > "$WORK/docker.json"
    json_post admin POST /xapi/docker/server "$WORK/docker.json"
    need 200 201
    record docker-server changed "$DOCKER_HOST_URL"
  fi
fi

# ---------------------------------------------------------------- 7. this suite
# sarcoma-xnat xnat install is idempotent itself: it prints what it changed, or "already installed"
XNAT_HOST=$XNAT_URL XNAT_USER=$ADMIN_USER XNAT_PASS=$ADMIN_PASS REQUESTS_CA_BUNDLE=${CA_FILE:-} \
  "$SUITE_CMD" xnat install --project "$SUITE_PROJECT" > "$WORK/install.out"
cat "$WORK/install.out"
if grep -q "already installed" "$WORK/install.out"; then
  record suite unchanged "sarcoma-xnat xnat install --project $SUITE_PROJECT"
else
  record suite changed "$(grep -c . "$WORK/install.out") change(s): sarcoma-xnat xnat install --project $SUITE_PROJECT"
fi
unset ADMIN_PASS

mv "$STATE_FILE.tmp" "$STATE_FILE"
echo "sarcoma-xnat configure: done, $CHANGES change(s); record in $STATE_FILE"
