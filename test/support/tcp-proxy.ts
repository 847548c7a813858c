import net from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 in front of a server, so a test can make that server unreachable
 * (`stop` refuses new connections and resets open ones) and reachable again (`start`), or hold
 * everything in flight (`pause`: the connections stay open and nothing more crosses them).
 */
export class TcpProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private paused = false;
  /** Each client connection and the one it opened upstream. */
  private readonly pairs = new Map<net.Socket, net.Socket>();
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.targetPort, this.targetHost);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      this.pairs.set(client, upstream);
      client.on('close', () => this.pairs.delete(client));
      // Held from the start while paused: piping would resume them.
      if (this.paused) this.hold(client, upstream);
      else client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** Stops forwarding in both directions, on the open connections and on new ones, until `stop`. */
  pause(): void {
    this.paused = true;
    for (const [client, upstream] of this.pairs) this.hold(client, upstream);
  }

  /** Unpiped as well as paused: a pipe resumes its source when the other side drains. */
  private hold(client: net.Socket, upstream: net.Socket): void {
    client.unpipe(upstream);
    upstream.unpipe(client);
    client.pause();
    upstream.pause();
  }

  async stop(): Promise<void> {
    this.paused = false;
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.resetAndDestroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
