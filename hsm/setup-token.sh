#!/usr/bin/env bash
# Creates (once) the project-local SoftHSM2 token the service keeps its keys in.
#
#   HSM_DIR          folder for softhsm2.conf, tokens/ and token.env (default: this script's folder)
#   HSM_TOKEN_LABEL  token label (default: privacy-service)
#
# Writes $HSM_DIR/softhsm2.conf, initialises a token with freshly generated random PINs if no token
# with that label exists yet, and records them in $HSM_DIR/token.env (mode 600):
#   SOFTHSM2_CONF=... HSM_TOKEN_LABEL=... HSM_PIN=... HSM_SO_PIN=...
# Running it again keeps the existing token and env file. It never prints a PIN.
set -euo pipefail
umask 077

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
hsm_dir="${HSM_DIR:-$script_dir}"
label="${HSM_TOKEN_LABEL:-privacy-service}"
template="$script_dir/softhsm2.conf.template"

fail() { echo "setup-token: $*" >&2; exit 1; }

command -v softhsm2-util >/dev/null 2>&1 \
  || fail "softhsm2-util not found: install SoftHSM2 (Debian/Ubuntu: apt-get install softhsm2)"
[[ -f "$template" ]] || fail "missing $template"
# PKCS#11 token labels are at most 32 bytes (CK_TOKEN_INFO.label).
(( ${#label} >= 1 && ${#label} <= 32 )) || fail "HSM_TOKEN_LABEL must be 1 to 32 characters"

mkdir -p "$hsm_dir"
hsm_dir="$(cd "$hsm_dir" && pwd)"
token_dir="$hsm_dir/tokens"
conf="$hsm_dir/softhsm2.conf"
env_file="$hsm_dir/token.env"
mkdir -p "$token_dir"
chmod 700 "$token_dir"

# One setup at a time per folder. SoftHSM only treats sub-folders of tokendir as tokens, so the
# lock file there is ignored by it.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$token_dir/.setup.lock"
  flock 9
fi

tpl="$(<"$template")"
tmp="$(mktemp "$hsm_dir/.softhsm2.conf.XXXXXX")"
printf '%s\n' "${tpl//@HSM_TOKEN_DIR@/$token_dir}" >"$tmp"
mv -f "$tmp" "$conf"
export SOFTHSM2_CONF="$conf"

token_exists() {
  softhsm2-util --show-slots 2>/dev/null | awk -v want="$1" '
    /^[[:space:]]*Label:/ { sub(/^[[:space:]]*Label:[[:space:]]*/, ""); sub(/[[:space:]]+$/, ""); if ($0 == want) found = 1 }
    END { exit found ? 0 : 1 }'
}

# Reads one KEY='value' line of token.env (values are written single-quoted, see quote()).
env_value() {
  sed -n "s/^$1='\(.*\)'\$/\1/p" "$env_file" | head -n 1 | sed "s/'\\\\''/'/g"
}

quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

random_pin() { od -An -tx1 -N16 /dev/urandom | tr -d ' \n'; }

if token_exists "$label"; then
  [[ -f "$env_file" ]] \
    || fail "token \"$label\" exists in $token_dir but $env_file is missing; its PINs are unknown (delete the token folder to start over)"
  [[ "$(env_value HSM_TOKEN_LABEL)" == "$label" ]] \
    || fail "$env_file belongs to token \"$(env_value HSM_TOKEN_LABEL)\", not \"$label\"; use another HSM_DIR"
  echo "HSM token \"$label\" ready in $token_dir (existing)"
  exit 0
fi

if [[ -f "$env_file" && "$(env_value HSM_TOKEN_LABEL)" != "$label" ]] && token_exists "$(env_value HSM_TOKEN_LABEL)"; then
  fail "$env_file belongs to token \"$(env_value HSM_TOKEN_LABEL)\"; use another HSM_DIR for \"$label\""
fi

so_pin="$(random_pin)"
user_pin="$(random_pin)"
[[ ${#so_pin} -eq 32 && ${#user_pin} -eq 32 ]] || fail "could not read random bytes from /dev/urandom"

if ! out="$(softhsm2-util --init-token --free --label "$label" --so-pin "$so_pin" --pin "$user_pin" 2>&1)"; then
  # softhsm2-util does not echo PINs, but strip them anyway before showing its output.
  out="${out//$so_pin/***}"; out="${out//$user_pin/***}"
  fail "softhsm2-util --init-token failed: $out"
fi

tmp="$(mktemp "$hsm_dir/.token.env.XXXXXX")"
chmod 600 "$tmp"
{
  echo "# Local SoftHSM2 token created by hsm/setup-token.sh. Keep private; never commit."
  echo "SOFTHSM2_CONF=$(quote "$conf")"
  echo "HSM_TOKEN_LABEL=$(quote "$label")"
  echo "HSM_PIN=$(quote "$user_pin")"
  echo "HSM_SO_PIN=$(quote "$so_pin")"
} >"$tmp"
mv -f "$tmp" "$env_file"
chmod 600 "$env_file"
echo "HSM token \"$label\" ready in $token_dir (created)"
