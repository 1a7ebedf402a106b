// The JavaScript guest library's MessagePack against the vectors the
// Python library's test wrote with msgpack itself: the same bytes for the
// same values, the same values from the same bytes, broken input refused.
//
//   node mod-api/js/tests/msgpack.test.mjs VECTORS.json
//
// Run by tests/languages.rs after mod-api/python/tests/test_msgpack.py.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decode, decodeEach, encode } from '../msgpack.js';

const hex = (bytes) => Buffer.from(bytes).toString('hex');
const bytes = (h) => new Uint8Array(Buffer.from(h, 'hex'));

// A vector's value as JavaScript holds it: integers past 2^53 as BigInt.
function untag(v) {
  if (v === null || typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.map(untag);
  if ('i' in v) {
    const n = BigInt(v.i);
    return n <= 9007199254740991n && n >= -9007199254740991n ? Number(n) : n;
  }
  if ('f' in v) return new DataView(bytes(v.f).buffer).getFloat64(0);
  if ('s' in v) return v.s;
  if ('b' in v) return bytes(v.b);
  const o = {};
  for (const [k, x] of v.m) Object.defineProperty(o, k, { value: untag(x), enumerable: true, writable: true, configurable: true });
  return o;
}

const vectors = JSON.parse(readFileSync(process.argv[2], 'utf8'));
let count = 0;
for (const { value, hex: want } of vectors) {
  const v = untag(value);
  const got = hex(encode(v));
  if (got !== want) {
    const at = [...got].findIndex((c, i) => c !== want[i]);
    assert.fail(`encode(${JSON.stringify(value).slice(0, 200)}): bytes differ from ${at / 2}: ${got.slice(at, at + 40)} for ${want.slice(at, at + 40)}`);
  }
  assert.deepStrictEqual(decode(bytes(want)), v);
  count++;
}

// Whole-number floats are integers in JavaScript; the game reads either.
assert.equal(hex(encode(3.0)), '03');
assert.equal(hex(encode(-0)), '00');
assert.equal(hex(encode(2n ** 64n - 1n)), 'cfffffffffffffffff');
assert.equal(hex(encode(-(2n ** 63n))), 'd38000000000000000');
assert.equal(hex(encode(new BigUint64Array([1n]))), '91cf0000000000000001');
assert.equal(hex(encode(new Map([['a', 1]]))), '81a16101');
assert.equal(hex(encode({ a: undefined })), '81a161c0');
// A key that is an object's prototype elsewhere is a plain key here.
const proto = decode(bytes('81a95f5f70726f746f5f5f01'));
assert.equal(Object.getPrototypeOf(proto), Object.prototype);
assert.deepStrictEqual(Object.keys(proto), ['__proto__']);
assert.equal(hex(encode(proto)), '81a95f5f70726f746f5f5f01');
// An encode inside an encode (a getter) gets a buffer of its own.
const sly = { get a() { return hex(encode({ b: 'x'.repeat(100) })); } };
assert.deepStrictEqual(decode(encode(sly)), { a: hex(encode({ b: 'x'.repeat(100) })) });

// Broken input is refused, never read as something.
const good = encode({ a: [1, 'two', new Uint8Array([3]), 4.5, { b: null }] });
for (let cut = 0; cut < good.length; cut++) assert.throws(() => decode(good.subarray(0, cut)), `cut at ${cut}`);
for (const bad of ['c1', 'd902fffe', '91c701050 0'.replace(' ', ''), hex(good) + '00', 'ddffffffff', '91'.repeat(600) + '00']) {
  assert.throws(() => decode(bytes(bad)), bad);
}

// One value that does not decode costs only itself.
const items = [encode(1), encode('ok'), encode({ k: [2] })];
const array = bytes(`95${hex(items[0])}d902fffe${hex(items[1])}c7010500${hex(items[2])}`);
const got = decodeEach(array, (reason) => ({ bad: reason }));
assert.equal(got[0], 1);
assert.equal(got[2], 'ok');
assert.deepStrictEqual(got[4], { k: [2] });
assert.ok(got[1].bad && got[3].bad, JSON.stringify(got));
for (const broken of ['9201', '810102', '92d90561 62']) {
  assert.throws(() => decodeEach(bytes(broken.replace(' ', '')), () => null), broken);
}

console.log(`${count} vectors, every byte the same as msgpack's`);
