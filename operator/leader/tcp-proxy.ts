import net from 'node:net';

/** What the proxy does with connections. */
export type TcpProxyMode =
  /** Pass bytes both ways. */
  | 'forward'
  /** Drop every connection at once, as with a dead server. */
  | 'refuse'
  /** Accept connections and never answer, as with a network black hole. */
  | 'blackhole';

/**
 * A loopback TCP proxy for tests that need one client's link to a server
 * to fail while others keep theirs. TLS passes through untouched, so a
 * client verifying the server's certificate for 127.0.0.1 still does.
 * Changing the mode cuts every open connection, so kept-alive sockets do
 * not carry on as before.
 */
export class TcpProxy {
  private mode: TcpProxyMode = 'forward';
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    /** The port clients connect to. */
    readonly port: number,
  ) {}

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('TcpProxy: no port');
    const proxy = new TcpProxy(server, address.port);
    server.on('connection', (client) => proxy.accept(client, targetPort, targetHost));
    return proxy;
  }

  /** `https://127.0.0.1:<port>`, for a kubeconfig's server. */
  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  setMode(mode: TcpProxyMode): void {
    this.mode = mode;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  async close(): Promise<void> {
    this.setMode('refuse');
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  }

  private accept(client: net.Socket, targetPort: number, targetHost: string): void {
    this.track(client);
    if (this.mode === 'refuse') {
      client.destroy();
      return;
    }
    if (this.mode === 'blackhole') {
      client.pause();
      return;
    }
    const upstream = net.connect({ port: targetPort, host: targetHost });
    this.track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }
}
