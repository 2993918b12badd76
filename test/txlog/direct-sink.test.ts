/**
 * DirectSink without an `onWritten` callback (as the batch workers and their tests build it): its records are
 * still written, and a record the database refuses is still reported, never dropped in silence. On the old
 * code `onWritten?.(await writer.writeIsolated(…))` skipped the write itself when no callback was given.
 */
import t from 'tap'
import { DirectSink, reportPoisonToStderr } from '../../gateway/txlog/sinks.js'
import { LogWriter } from '../../gateway/txlog/writer.js'
import { logDatabase } from '../helpers/postgres.js'
import { record } from '../helpers/records.js'
import { loggedCount } from '../helpers/txlog.js'

const poison = () => ({ ...record(), id: 'not-a-uuid-\u0000' })

t.test('a DirectSink built without onWritten cannot lose the records appended to it', async (t) => {
  const sql = await logDatabase(t, 'postgres')
  const sink = new DirectSink(new LogWriter(sql), { batchMaxRecords: 50, batchMaxWaitMs: 5 })
  t.teardown(() => sink.close())
  const good = [record(), record(), record()]
  await Promise.all(good.map((r) => sink.append(r)))
  t.equal(await loggedCount(sql, good.map((r) => r.id)), 3, 'every appended record is in the log once append resolved')
  const [head] = await sql.query<{ seq: number }>('SELECT seq FROM ndx_chain_head')
  t.equal(head?.seq, 3, 'the chain head moved')
})

t.test('a DirectSink built without onWritten reports poison on stderr rather than hiding it', async (t) => {
  const sql = await logDatabase(t, 'postgres')
  const sink = new DirectSink(new LogWriter(sql), { batchMaxRecords: 50, batchMaxWaitMs: 5 })
  t.teardown(() => sink.close())
  const lines: string[] = []
  const write = process.stderr.write.bind(process.stderr)
  process.stderr.write = ((chunk: string | Uint8Array) => {
    lines.push(String(chunk))
    return true
  }) as typeof process.stderr.write
  const bad = poison()
  const good = record()
  try {
    await Promise.all([sink.append(good), sink.append(bad)])
  } finally {
    process.stderr.write = write
  }
  t.equal(await loggedCount(sql, [good.id]), 1, 'the legitimate record is written')
  const reported = lines.map((l) => JSON.parse(l) as { level: number, txn: string, msg: string })
  t.match(reported, [{ level: 50, txn: bad.id, msg: /refused by the database; kept aside in ndx_tx_poisoned/ }])
})

t.test('reportPoisonToStderr carries the record when it could not be kept aside', async (t) => {
  const lines: string[] = []
  reportPoisonToStderr({ written: 0, poisoned: [{ id: 'x', error: 'bad', kept: false, record: '{"id":"x"}' }] },
    { write: (l: string) => lines.push(l) })
  t.match(JSON.parse(lines[0] ?? '{}'), { level: 50, txn: 'x', reason: 'bad', record: '{"id":"x"}', msg: /not kept aside/ })
  reportPoisonToStderr({ written: 2, poisoned: [] }, { write: (l: string) => lines.push(l) })
  t.equal(lines.length, 1, 'nothing reported when nothing was refused')
})
