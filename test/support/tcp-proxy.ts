import net from 'node:net';

/** What the proxy does with connections. */
export type TcpProxyMode =
  /** Pass bytes both ways. */
  | 'forward'
  /** Nothing listens: connections are refused, as with a stopped server. */
  | 'refuse'
  /** Accept connections and never answer, as with a network black hole. */
  | 'blackhole';

export interface TcpTarget {
  host: string;
  port: number;
}

/**
 * A loopback TCP proxy a test can cut and restore, so one client sees a
 * real outage of a server that keeps running for everybody else. TLS
 * passes through untouched, so a client verifying the server's certificate
 * for 127.0.0.1 still does. Every change of mode cuts the open
 * connections, so kept-alive sockets do not carry on as before.
 */
export class TcpProxy {
  private mode: TcpProxyMode = 'forward';
  private server: net.Server | undefined;
  private listenPort = 0;
  private readonly sockets = new Set<net.Socket>();

  private constructor(private readonly target: TcpTarget) {}

  static async start(target: TcpTarget): Promise<TcpProxy> {
    const proxy = new TcpProxy(target);
    await proxy.listen();
    return proxy;
  }

  /** The port clients connect to; it stays the same across modes. */
  get port(): number {
    return this.listenPort;
  }

  /** `127.0.0.1:<port>`, for a URL of any scheme. */
  get address(): string {
    return `127.0.0.1:${this.listenPort}`;
  }

  async setMode(mode: TcpProxyMode): Promise<void> {
    this.mode = mode;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (mode === 'refuse') await this.stopListening();
    else if (this.server === undefined) await this.listen();
  }

  async close(): Promise<void> {
    await this.setMode('refuse');
  }

  private async listen(): Promise<void> {
    const server = net.createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // Port 0 the first time; the same port after a 'refuse', so clients find it again.
      server.listen(this.listenPort, '127.0.0.1', () => resolve());
    });
    this.listenPort = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  private async stopListening(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  }

  private accept(client: net.Socket): void {
    this.track(client);
    if (this.mode === 'blackhole') {
      client.pause();
      return;
    }
    const upstream = net.connect(this.target);
    this.track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }
}
