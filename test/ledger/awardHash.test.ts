// An award's key is bound to the hash of its request (invariant 4). The award path writes that
// request's canonical JSON out in its fixed key order instead of sorting it per award: the hash must
// be exactly requestHash's, or every key claimed before would answer IDEMPOTENCY_CONFLICT to its retry.
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { awardRequestHash } from '../../src/ledger/awards.js';
import { requestHash } from '../../src/ledger/idempotency.js';

const text = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.constantFrom('', '"', '\\', '\n', '汉字', 'a"b\\c'));
const json: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, fc.constant(null), fc.boolean(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), text,
    fc.array(tie('value'), { maxLength: 3 }), fc.dictionary(text, tie('value'), { maxKeys: 4 })),
})).value;

it('an award\'s request hash is requestHash of the same meaning, whatever the member, memo, dates and metadata', () => {
  fc.assert(fc.property(
    fc.option(fc.bigInt({ min: 1n, max: 2n ** 62n }).map(String)), fc.option(text), text, fc.constantFrom('1', '0.5', '12.25', '1000'),
    fc.option(fc.date({ noInvalidDate: true }).map((d) => d.toISOString())), fc.option(text), fc.option(fc.dictionary(text, json, { maxKeys: 5 })),
    (memberId, externalId, rule, quantity, occurredAt, memo, metadata) => {
      const meaning = { memberId, externalId, rule, quantity, occurredAt, memo, metadata };
      expect(awardRequestHash(meaning)).toBe(requestHash('awardPoints', meaning));
    },
  ), { numRuns: 2000 });
});

it('the hash of a request as the service has always written it stays the same', () => {
  // Computed by requestHash before the award path wrote its JSON itself: a stored key's hash.
  const meaning = { memberId: null, externalId: 'resident-1', rule: 'garbage.sorted-drop', quantity: '1', occurredAt: null, memo: null, metadata: { station: 's-1' } };
  expect(awardRequestHash(meaning)).toBe('Olhs8nlJuv2gy-48qwhTFEjZk4J57YOeIKjnIiQVWZw');
});
