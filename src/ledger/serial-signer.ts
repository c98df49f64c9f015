/**
 * A signer that sends one transaction at a time.
 *
 * An account's transactions must carry consecutive nonces. When two sends overlap, both read the
 * same "pending" nonce and one of them is rejected or replaced. Queuing the sends means each one
 * reads the nonce only after the previous transaction was accepted by the node, whose pending
 * nonce then already counts it.
 *
 * Unlike ethers' NonceManager, no nonce is kept locally: a send that fails before broadcast (for
 * example a revert found during gas estimation) leaves no gap, and a ledger that was reset to an
 * empty chain is picked up at once.
 */
import {
  AbstractSigner,
  type Provider,
  type Signer,
  type TransactionRequest,
  type TransactionResponse,
  type TypedDataDomain,
  type TypedDataField,
} from 'ethers';

export class SerialSigner extends AbstractSigner {
  #tail: Promise<unknown> = Promise.resolve();

  constructor(readonly inner: Signer) {
    super(inner.provider);
  }

  override connect(provider: Provider | null): SerialSigner {
    return new SerialSigner(this.inner.connect(provider));
  }

  override getAddress(): Promise<string> {
    return this.inner.getAddress();
  }

  override sendTransaction(tx: TransactionRequest): Promise<TransactionResponse> {
    const sent = this.#tail.then(() => this.inner.sendTransaction(tx));
    this.#tail = sent.catch(() => undefined);
    return sent;
  }

  override signTransaction(tx: TransactionRequest): Promise<string> {
    return this.inner.signTransaction(tx);
  }

  override signMessage(message: string | Uint8Array): Promise<string> {
    return this.inner.signMessage(message);
  }

  override signTypedData(
    domain: TypedDataDomain,
    types: Record<string, TypedDataField[]>,
    value: Record<string, unknown>,
  ): Promise<string> {
    return this.inner.signTypedData(domain, types, value);
  }
}
