/**
 * A test program, run as its own process with a token's SOFTHSM2_CONF / HSM_TOKEN_LABEL / HSM_PIN:
 * creates (if missing) the service's coordinator key in that token, as the service does on first
 * use, and prints its public key (uncompressed, hex), which signer nodes are configured with.
 */
import { Pkcs11Client } from '../../../src/hsm/pkcs11-client.js';
import { COORDINATOR_KEY_LABEL } from '../../../src/custody/service/custody-wallet.service.js';

const hsm = new Pkcs11Client();
await hsm.open({ modulePath: process.env.HSM_MODULE || '/usr/lib/softhsm/libsofthsm2.so', tokenLabel: process.env.HSM_TOKEN_LABEL!, pin: process.env.HSM_PIN!, sessions: 1 });
const { publicKey } = await hsm.ensureEcKeyPair(COORDINATOR_KEY_LABEL, 'P-256');
process.stdout.write(Buffer.from(publicKey).toString('hex'));
await hsm.close();
