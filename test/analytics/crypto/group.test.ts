/**
 * The group layer against circomlib's published BabyJubJub vectors (test/babyjub.js in
 * iden3/circomlib and circomlibjs), and the wire checks: on the curve and in the prime-order subgroup.
 */
import { babyjubjub } from '@noble/curves/misc.js';
import { G, SUBGROUP_ORDER, FIELD_PRIME, InvalidPointError, MalformedMessageError, decodePoint, encodePoint, encodePoints } from '../../../src/analytics/crypto/index.js';

const Point = babyjubjub.Point;
const pt = (x: bigint, y: bigint) => Point.fromAffine({ x, y });

// circomlib test/babyjub.js
const P = pt(17777552123799933955779906779655732241715742912184938656739573121738514868268n, 2626589144620713026669568689430873010625803728049924121243784502389097019475n);
const Q = pt(16540640123574156134436876038791482806971768689494387082833631921987005038935n, 20819045374670962167435360035096875258406992893633759881276124905556507972311n);
// circomlib's full-order Generator (order 8n) and Base8 = 8 * Generator.
const GENERATOR = pt(995203441582195749578291179787384436505546430278305826713579947235728471134n, 5472060717959818805561601436314318772137091100104008585924551046643952123905n);
const BASE8 = [5299619240641551281634865583518297030282874472190772894086521144482721001553n, 16950150798460657717958625567821834550301663161624707787222815936182638968203n];

const enc = (p: { x: bigint; y: bigint }) => [p.x.toString(), p.y.toString()];
/** The order-8 torsion point n*GENERATOR (n is not a valid scalar for noble's multiply). */
const torsion8 = () => GENERATOR.multiplyUnsafe(SUBGROUP_ORDER - 1n).add(GENERATOR);

describe('BabyJubJub group (circomlib vectors)', () => {
  it('uses circomlib constants: Base8 as generator, subgroup order, field prime', () => {
    expect(G.toAffine()).toEqual({ x: BASE8[0], y: BASE8[1] });
    expect(GENERATOR.multiplyUnsafe(8n).equals(G)).toBe(true);
    expect(SUBGROUP_ORDER).toBe(2736030358979909402780800718157159386076813972158567259200215660948447373041n);
    expect(FIELD_PRIME).toBe(21888242871839275222246405745257275088548364400416034343698204186575808495617n);
  });

  it('doubles, adds and multiplies as circomlib does', () => {
    expect(P.add(P).toAffine()).toEqual({ x: 6890855772600357754907169075114257697580319025794532037257385534741338397365n, y: 4338620300185947561074059802482547481416142213883829469920100239455078257889n });
    expect(P.add(Q).toAffine()).toEqual({ x: 7916061937171219682591368294088513039687205273691143098332585753343424131937n, y: 14035240266687799601661095864649209771790948434046947201833777492504781204499n });
    expect(P.multiplyUnsafe(3n).toAffine()).toEqual({ x: 19372461775513343691590086534037741906533799473648040012278229434133483800898n, y: 9458658722007214007257525444427903161243386465067105737478306991484593958249n });
  });

  it('accepts circomlib subgroup points and round-trips them', () => {
    for (const p of [P, P.add(P), G]) {
      const e = encodePoint(p);
      expect(decodePoint(e, 'p').equals(p)).toBe(true);
    }
    expect(encodePoints([P, G])).toEqual([encodePoint(P), encodePoint(G)]);
  });

  it('rejects points off the curve', () => {
    expect(() => decodePoint(['1', '2'], 'key')).toThrow(InvalidPointError);
    expect(() => decodePoint([BASE8[0]!.toString(), (BASE8[1]! + 1n).toString()], 'key')).toThrow(/not on the BabyJubJub curve/);
  });

  it('rejects small-order points and points with a cofactor component', () => {
    const t8 = torsion8();
    expect(t8.is0()).toBe(false);
    expect(t8.multiplyUnsafe(8n).is0()).toBe(true);
    const order2 = ['0', (FIELD_PRIME - 1n).toString()];
    expect(() => decodePoint(order2, 'key')).toThrow(/small-order/);
    expect(() => decodePoint(enc(t8.toAffine()), 'key')).toThrow(/small-order/);
    expect(() => decodePoint(enc(t8.double().toAffine()), 'key')).toThrow(/small-order/);
    expect(() => decodePoint(enc(GENERATOR.toAffine()), 'key')).toThrow(/prime-order subgroup/);
    expect(() => decodePoint(enc(G.add(t8).toAffine()), 'ciphertext.c1', { allowIdentity: true })).toThrow(/prime-order subgroup/);
  });

  it('rejects the identity unless allowed, and non-canonical encodings', () => {
    expect(() => decodePoint(['0', '1'], 'key')).toThrow(/identity/);
    expect(decodePoint(['0', '1'], 'c1', { allowIdentity: true }).is0()).toBe(true);
    const [x, y] = encodePoint(G);
    expect(() => decodePoint([x, (BigInt(y) + FIELD_PRIME).toString()], 'key')).toThrow(MalformedMessageError);
    expect(() => decodePoint(['0' + x, y], 'key')).toThrow(MalformedMessageError);
    expect(() => decodePoint([x], 'key')).toThrow(InvalidPointError);
    expect(() => decodePoint([Number(1), y], 'key')).toThrow(MalformedMessageError);
  });
});
