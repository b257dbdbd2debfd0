import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import net from 'node:net';
import { describeError } from '../core/errors.js';
import { sleep } from '../core/timing.js';

/**
 * Ports handed out below the kernel's ephemeral range (Linux 32768–60999,
 * macOS 49152–65535). A port the kernel picks for `listen(0)` comes from
 * that range, and so does the local port of every outgoing connection:
 * between this check and the server's own listen, any client on the
 * machine could take it (seen as EADDRINUSE under parallel test runs).
 * Below the range only another listener can.
 */
const PORT_RANGE = { first: 20_000, last: 32_767 } as const;
const PORT_ATTEMPTS = 64;

/** A TCP port free on loopback and on every interface (servers here listen on either). */
export async function freePort(): Promise<number> {
  const span = PORT_RANGE.last - PORT_RANGE.first + 1;
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt += 1) {
    const port = PORT_RANGE.first + Math.floor(Math.random() * span);
    if ((await canListen(port, '127.0.0.1')) && (await canListen(port, '::'))) return port;
  }
  return kernelPort();
}

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Falls back to the kernel's choice when the range is crowded. */
function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        reject(new Error('no port'));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

/** Polls `check` until it returns true or the deadline passes. */
export async function waitFor(
  what: string | (() => string),
  check: () => Promise<boolean> | boolean,
  { timeoutMs = 30_000, intervalMs = 50 } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    await sleep(intervalMs);
  }
  const cause = lastError === undefined ? '' : `: ${describeError(lastError)}`;
  // A description given as a function is read now, so it can show what happened meanwhile.
  const described = typeof what === 'function' ? what() : what;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${described}${cause}`);
}

/** Resolves once a TCP connection to host:port succeeds. */
export function canConnect(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A child server process whose output is kept for error messages. */
export class ServerProcess {
  private child: ChildProcess | undefined;
  private output = '';

  constructor(
    private readonly name: string,
    private readonly command: string,
    private readonly args: string[],
    private readonly options: SpawnOptions = {},
  ) {}

  start(): void {
    this.output = '';
    const child = spawn(this.command, this.args, {
      ...this.options,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-8_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('error', (error) => keep(Buffer.from(`\n${this.name}: ${describeError(error)}\n`)));
    this.child = child;
  }

  get running(): boolean {
    return (
      this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
    );
  }

  get recentOutput(): string {
    return this.output;
  }

  /** Sends `signal` and waits for the process to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20_000): Promise<void> {
    const child = this.child;
    if (child === undefined || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }
}
