/**
 * The service's HSM: one Pkcs11Client opened at start-up from APP_CONFIG (HSM_MODULE,
 * HSM_TOKEN_LABEL, HSM_PIN, HSM_SESSIONS) and closed at shutdown, plus envelope sealing.
 *
 * With SoftHSM2 the token's location comes from SOFTHSM2_CONF, which the launcher (or the
 * operator) sets; the service does not go looking for a configuration file of its own.
 */
import path from 'node:path';
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { open as openEnvelope, seal as sealEnvelope, type EnvelopeContext, type SealedEnvelope } from './envelope.js';
import { HsmError } from './hsm-error.js';
import {
  Pkcs11Client,
  type AesGcmCiphertext,
  type EcCurve,
  type EcKeyStatus,
  type KeyStatus,
} from './pkcs11-client.js';

export interface HsmHealth {
  status: 'ok' | 'down';
  detail?: string;
}

const HEALTH_TIMEOUT_MS = 2000;

@Injectable()
export class HsmService implements OnModuleInit, OnApplicationShutdown {
  readonly #log = new Logger('HsmService');
  readonly #client = new Pkcs11Client();

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  async onModuleInit(): Promise<void> {
    const { HSM_MODULE, HSM_TOKEN_LABEL, HSM_PIN, HSM_SESSIONS } = this.config;
    if (/softhsm/i.test(path.basename(HSM_MODULE)) && !process.env.SOFTHSM2_CONF) {
      throw new HsmError(
        'HSM_CONFIG_MISSING',
        'SOFTHSM2_CONF is not set: run hsm/setup-token.sh and export the variables in hsm/token.env (the embedded launcher does this)',
      );
    }
    await this.#client.open({ modulePath: HSM_MODULE, tokenLabel: HSM_TOKEN_LABEL, pin: HSM_PIN ?? '', sessions: HSM_SESSIONS });
    this.#log.log(`HSM token "${HSM_TOKEN_LABEL}" open with ${HSM_SESSIONS} sessions`);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.#client.close();
  }

  /** The underlying client, for code that needs an operation not wrapped here. */
  get client(): Pkcs11Client {
    return this.#client;
  }

  /** Token reachable and logged in, within 2 s. Never throws. */
  async health(): Promise<HsmHealth> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`HSM token "${this.config.HSM_TOKEN_LABEL}" did not answer within ${HEALTH_TIMEOUT_MS} ms`)),
        HEALTH_TIMEOUT_MS,
      );
    });
    try {
      const status = await Promise.race([this.#client.status(), timeout]);
      return { status: 'ok', detail: `token "${status.label}", ${status.busySessions}/${status.sessions} sessions busy` };
    } catch (error) {
      return { status: 'down', detail: error instanceof Error ? error.message : String(error) };
    } finally {
      clearTimeout(timer);
    }
  }

  ensureAesKey(label: string): Promise<KeyStatus> {
    return this.#client.ensureAesKey(label);
  }

  aesGcmEncrypt(label: string, plaintext: Uint8Array, aad?: Uint8Array): Promise<AesGcmCiphertext> {
    return this.#client.aesGcmEncrypt(label, plaintext, aad);
  }

  aesGcmDecrypt(label: string, iv: Uint8Array, ciphertext: Uint8Array, aad?: Uint8Array): Promise<Buffer> {
    return this.#client.aesGcmDecrypt(label, iv, ciphertext, aad);
  }

  ensureEcKeyPair(label: string, curve: EcCurve): Promise<EcKeyStatus> {
    return this.#client.ensureEcKeyPair(label, curve);
  }

  getEcPublicKey(label: string): Promise<Buffer> {
    return this.#client.getEcPublicKey(label);
  }

  signEcdsaDigest(label: string, digest: Uint8Array): Promise<Buffer> {
    return this.#client.signEcdsaDigest(label, digest);
  }

  ensureHmacKey(label: string): Promise<KeyStatus> {
    return this.#client.ensureHmacKey(label);
  }

  hmacSha256(label: string, data: Uint8Array): Promise<Buffer> {
    return this.#client.hmacSha256(label, data);
  }

  verifyHmacSha256(label: string, data: Uint8Array, mac: Uint8Array): Promise<boolean> {
    return this.#client.verifyHmacSha256(label, data, mac);
  }

  randomBytes(n: number): Promise<Buffer> {
    return this.#client.randomBytes(n);
  }

  /** Envelope-encrypt a record under the HSM key `kekLabel`, bound to `context` (see envelope.ts). */
  seal(kekLabel: string, plaintext: Uint8Array, context: EnvelopeContext): Promise<SealedEnvelope> {
    return sealEnvelope(this.#client, kekLabel, plaintext, context);
  }

  /** Open an envelope; rejects unless it was sealed for exactly `expectedContext`. */
  open(envelope: SealedEnvelope, expectedContext: EnvelopeContext): Promise<Buffer> {
    return openEnvelope(this.#client, envelope, expectedContext);
  }
}
