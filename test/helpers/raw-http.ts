/** One HTTP exchange over a raw socket: bytes exactly as given, the reply read until the server closes. */
import { connect } from 'node:net'

export interface RawReply { status: number, headers: Record<string, string>, body: string }

export function rawExchange (port: number, bytes: string | Buffer, timeoutMs = 10_000): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.setTimeout(timeoutMs, () => { socket.destroy(); reject(new Error('raw exchange timed out')) })
    const done = (): void => {
      const text = Buffer.concat(chunks).toString('utf8')
      const at = text.indexOf('\r\n\r\n')
      const [statusLine = '', ...lines] = text.slice(0, at < 0 ? text.length : at).split('\r\n')
      const headers: Record<string, string> = {}
      for (const l of lines) { const i = l.indexOf(':'); headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim() }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: at < 0 ? '' : text.slice(at + 4) })
    }
    socket.on('data', (c: Buffer) => {
      chunks.push(c)
      // A reply to a request whose declared body never comes: stop once the reply's own body is complete.
      const text = Buffer.concat(chunks).toString('utf8')
      const at = text.indexOf('\r\n\r\n')
      const len = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, at))
      if (at >= 0 && len !== null && Buffer.byteLength(text.slice(at + 4)) >= Number(len[1])) {
        socket.destroy()
        done()
      }
    })
    socket.on('error', reject)
    socket.on('end', () => { socket.destroy(); done() })
    socket.write(bytes)
  })
}
