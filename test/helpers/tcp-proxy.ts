/**
 * A TCP proxy that can be cut and restored: a network partition between a component and its database.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { once } from 'node:events'
import type { Test } from 'tap'

export interface TcpProxy {
  readonly port: number
  cut (): Promise<void>
  restore (): Promise<void>
}

export async function tcpProxy (t: Test, targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const sockets = new Set<Socket>()
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
  }
  t.teardown(() => proxy.cut().catch(() => {}))
  return proxy
}
