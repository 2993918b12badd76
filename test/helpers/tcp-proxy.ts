/**
 * A TCP proxy that can be cut and restored: a network partition between a component and its database.
 * It can also stall (connections stay open, bytes wait until it resumes): a peer that hangs, not one that fails.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { once } from 'node:events'
import type { Test } from 'tap'

export interface TcpProxy {
  readonly port: number
  cut (): Promise<void>
  restore (): Promise<void>
  stall (): void
  resume (): void
}

export async function tcpProxy (t: Test, targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const sockets = new Set<Socket>()
  let stalled = false
  let server: Server
  let port = 0
  const listen = async (): Promise<void> => {
    server = createServer((client) => {
      const upstream = createConnection(targetPort, targetHost)
      for (const s of [client, upstream]) {
        sockets.add(s)
        s.on('close', () => sockets.delete(s))
        s.on('error', () => { client.destroy(); upstream.destroy() })
      }
      client.pipe(upstream).pipe(client)
      if (stalled) for (const s of [client, upstream]) s.pause()
    })
    server.listen(port, '127.0.0.1')
    await once(server, 'listening')
    port = (server.address() as { port: number }).port
  }
  await listen()
  const proxy: TcpProxy = {
    get port () { return port },
    async cut () {
      for (const s of sockets) s.destroy()
      await new Promise((resolve) => server.close(resolve))
    },
    restore: listen,
    stall () {
      stalled = true
      for (const s of sockets) s.pause()
    },
    resume () {
      stalled = false
      for (const s of sockets) s.resume()
    },
  }
  t.teardown(() => proxy.cut().catch(() => {}))
  return proxy
}
