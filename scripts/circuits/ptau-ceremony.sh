#!/usr/bin/env bash
# Development powers-of-tau (phase 1) ceremony for the Groth16 circuits.
#
# DEVELOPMENT ONLY. Every input below is public, so anyone can recompute every
# secret: proofs made with keys derived from this file are not sound against a
# prover who reads this script. Production keys come from a multi-party phase-2
# ceremony on top of a public multi-party phase 1 (see docs/circuits.md).
#
# Why beacons instead of `powersoftau contribute -e=...`: snarkjs mixes 64 bytes
# of operating-system randomness into the -e entropy (misc.getRandomRng), so a
# contribution is never reproducible. A beacon contribution derives its secret
# only from the beacon hash and the previous transcript, so this script produces
# a byte-identical file on every run. Each named contribution uses
# sha256(entropy string) as its beacon hash.
#
# Usage: bash scripts/circuits/ptau-ceremony.sh [power=15] [work dir] [output file]
# Writes circuits/ptau/pot<power>_final.ptau unless an output file is given;
# intermediates stay in the work dir (default circuits/build/tmp/ptau<power>, not committed).
# Measured at 2^15 on 2 shared cores: contributions 143 s, prepare phase2 1214 s, verify 14 s.
set -euo pipefail

POWER="${1:-15}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="$(realpath -m "${2:-$ROOT/circuits/build/tmp/ptau$POWER}")"
OUT="$(realpath -m "${3:-$ROOT/circuits/ptau/pot${POWER}_final.ptau}")"
SNARKJS="$ROOT/node_modules/.bin/snarkjs"

ENTROPY_1="cbdc-privacy-service dev ceremony: contribution 1 (alice)"
ENTROPY_2="cbdc-privacy-service dev ceremony: contribution 2 (bob)"
ENTROPY_BEACON="cbdc-privacy-service dev ceremony: final beacon"

hex() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
step() { echo "[$(date -u +%H:%M:%S)] $*"; }

mkdir -p "$WORK" "$(dirname "$OUT")"
cd "$WORK"
T0=$(date +%s)

step "new bn128 2^$POWER"
"$SNARKJS" powersoftau new bn128 "$POWER" pot_0000.ptau -v
step "contribution 1"
"$SNARKJS" powersoftau beacon pot_0000.ptau pot_0001.ptau "$(hex "$ENTROPY_1")" 10 -n="dev contribution 1 (alice)" -v
step "contribution 2"
"$SNARKJS" powersoftau beacon pot_0001.ptau pot_0002.ptau "$(hex "$ENTROPY_2")" 10 -n="dev contribution 2 (bob)" -v
step "final beacon"
"$SNARKJS" powersoftau beacon pot_0002.ptau pot_beacon.ptau "$(hex "$ENTROPY_BEACON")" 10 -n="dev final beacon" -v
T1=$(date +%s)
step "prepare phase2"
"$SNARKJS" powersoftau prepare phase2 pot_beacon.ptau pot_final.ptau -v
T2=$(date +%s)
step "verify"
"$SNARKJS" powersoftau verify pot_final.ptau
T3=$(date +%s)
cp pot_final.ptau "$OUT"
step "done: contributions $((T1-T0)) s, prepare phase2 $((T2-T1)) s, verify $((T3-T2)) s"
sha256sum "$OUT"
