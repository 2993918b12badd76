/**
 * Encryption at rest: authenticated, bound to the record's key, rotatable.
 */
import t from 'tap'
import { RecordCipher } from '../../gateway/reuse/cipher.js'

const K1 = { id: 'k1', key: Buffer.alloc(32, 1).toString('base64') }
const K2 = { id: 'k2', key: Buffer.alloc(32, 2).toString('base64url') }

t.test('seal and open', async (t) => {
  const c = new RecordCipher([K1])
  const sealed = c.seal(Buffer.from('{"fullName":"Dương Đức Việt"}'), 'idx:rec')
  t.notOk(sealed.includes(Buffer.from('Dương')), 'no plaintext in the sealed value')
  t.notOk(sealed.includes(Buffer.from('fullName')))
  t.equal(c.open(sealed, 'idx:rec')?.toString(), '{"fullName":"Dương Đức Việt"}')
  t.not(
    c.seal(Buffer.from('same'), 'k').toString('hex'),
    c.seal(Buffer.from('same'), 'k').toString('hex'),
    'a fresh IV each time'
  )
})

t.test('a value moved to another key, tampered, or under an unknown key does not open', async (t) => {
  const c = new RecordCipher([K1])
  const sealed = c.seal(Buffer.from('record'), 'idx:a')
  t.equal(c.open(sealed, 'idx:b'), null, 'bound to its key')
  const tampered = Buffer.from(sealed)
  tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1
  t.equal(c.open(tampered, 'idx:a'), null)
  t.equal(new RecordCipher([K2]).open(sealed, 'idx:a'), null)
  t.equal(c.open(Buffer.from('garbage'), 'idx:a'), null)
})

t.test('rotation: the first key seals, every listed key opens', async (t) => {
  const old = new RecordCipher([K1])
  const rotated = new RecordCipher([K2, K1])
  const sealedOld = old.seal(Buffer.from('before'), 'x')
  const sealedNew = rotated.seal(Buffer.from('after'), 'x')
  t.equal(rotated.open(sealedOld, 'x')?.toString(), 'before')
  t.equal(rotated.open(sealedNew, 'x')?.toString(), 'after')
  t.equal(old.open(sealedNew, 'x'), null, 'a gateway without the new key cannot read new records')
  t.throws(() => new RecordCipher([]))
})
