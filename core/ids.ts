/**
 * Transaction ids: UUID version 7 (RFC 9562) — time-ordered, so ids sort roughly by when they were made,
 * and random enough that one cannot be guessed from another.
 */
import { randomFillSync } from 'node:crypto'

const pool = Buffer.alloc(16 * 256)
let offset = pool.length
let lastMs = 0
let seq = 0

export function transactionId (now = Date.now()): string {
  if (offset + 16 > pool.length) {
    randomFillSync(pool)
    offset = 0
  }
  const b = Buffer.from(pool.subarray(offset, offset + 16))
  offset += 16
  // 12 bits after the timestamp count calls within one millisecond, so ids from one process stay ordered.
  seq = now === lastMs ? (seq + 1) & 0xfff : b.readUInt16BE(6) & 0x7ff
  lastMs = now
  b.writeUIntBE(now, 0, 6)
  b[6] = 0x70 | (seq >> 8)
  b[7] = seq & 0xff
  b[8] = ((b[8] as number) & 0x3f) | 0x80
  const h = b.toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}
