import { ApiProperty } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsObject, Matches } from 'class-validator';

export const ACCOUNT = /^acct_[0-9a-f]{8,64}$/;
export const REFERENCE = /^[A-Za-z0-9._:-]{1,64}$/;
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const DECIMAL = /^(0|[1-9][0-9]{0,77})$/;

const POINT_EXAMPLE = ['5299619240641551281634865583518297030282874472190772894086521144482721001553', '16950150798460657717958625567821834550301663161624707787222815936182638968203'];

export class RecordPaymentDto {
  @ApiProperty({ description: "The payer's pseudonymous account id: 'acct_' and 8-64 lower-case hex digits", example: 'acct_1f2e3d4c5b6a7988' })
  @Matches(ACCOUNT, { message: "payer must be 'acct_' followed by 8-64 lower-case hex digits" })
  payer!: string;

  @ApiProperty({ description: "The payee's pseudonymous account id", example: 'acct_0a0b0c0d0e0f1011' })
  @Matches(ACCOUNT, { message: "payee must be 'acct_' followed by 8-64 lower-case hex digits" })
  payee!: string;

  @ApiProperty({ description: 'When the payment was made: ISO 8601 UTC with milliseconds, exactly as Date#toISOString writes it (the proof is bound to this string)', example: '2026-11-20T10:15:00.000Z' })
  @Matches(ISO_MS, { message: 'occurredAt must be an ISO 8601 UTC timestamp with milliseconds (YYYY-MM-DDTHH:mm:ss.sssZ)' })
  occurredAt!: string;

  @ApiProperty({ description: "The payment's reference, unique per payer (replays are refused)", example: 'inv-2026-0042' })
  @Matches(REFERENCE, { message: 'reference must be 1-64 letters, digits or . _ : -' })
  reference!: string;

  @ApiProperty({ description: 'Poseidon(amount, blinding), a decimal BN254 field element' })
  @Matches(DECIMAL, { message: 'commitment must be a decimal integer string' })
  commitment!: string;

  @ApiProperty({
    description: 'The six feature ciphertexts in slot order (amount, bucket0..bucket3, crossBorder), each {c1: [x, y], c2: [x, y]} with decimal BabyJubJub coordinates',
    example: [{ c1: POINT_EXAMPLE, c2: POINT_EXAMPLE }],
    type: 'array',
    items: { type: 'object' },
  })
  @IsArray()
  @ArrayMinSize(6, { message: 'ciphertexts must have exactly 6 entries (one per feature slot)' })
  @ArrayMaxSize(6, { message: 'ciphertexts must have exactly 6 entries (one per feature slot)' })
  @IsObject({ each: true })
  ciphertexts!: Record<string, unknown>[];

  @ApiProperty({ description: 'Groth16 proof as snarkjs writes it: {pi_a, pi_b, pi_c, protocol, curve}', type: Object })
  @IsObject()
  proof!: Record<string, unknown>;
}

export class EncodedCiphertextDto {
  @ApiProperty({ type: [String], example: POINT_EXAMPLE }) c1!: [string, string];
  @ApiProperty({ type: [String], example: POINT_EXAMPLE }) c2!: [string, string];
}

export class PaymentDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() payer!: string;
  @ApiProperty() payee!: string;
  @ApiProperty({ format: 'date-time' }) occurredAt!: string;
  @ApiProperty() reference!: string;
  @ApiProperty({ description: 'Poseidon commitment of the amount (decimal)' }) commitment!: string;
  @ApiProperty({ description: 'paymentBinding(payer, payee, occurredAt, reference): the public input tying the proof to these facts (decimal)' }) binding!: string;
  @ApiProperty({ type: [EncodedCiphertextDto], description: 'Feature ciphertexts in slot order' }) ciphertexts!: EncodedCiphertextDto[];
  @ApiProperty({ description: 'SHA-256 (hex) of the canonical JSON of the ciphertexts, as recorded in the audit log' }) ciphertextsHash!: string;
  @ApiProperty({ type: Object, description: 'The Groth16 proof' }) proof!: Record<string, unknown>;
  @ApiProperty({ type: [String], description: "The proof's public signals, recomputed from the stored values and the key set's slot keys (verify with the payment circuit's verification key)" })
  publicSignals!: string[];
  @ApiProperty({ format: 'uuid', description: 'The regulators\' key set the features are encrypted under' }) keySetId!: string;
  @ApiProperty({ format: 'date-time' }) recordedAt!: string;
}
