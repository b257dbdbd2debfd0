import type { Logger } from 'pino';
import { logText } from '../error-record.js';

export type ShutdownCallback = (reason: string) => Promise<void> | void;

export type ProcessLifecycle = 'starting' | 'running' | 'stopping' | 'stopped';

/**
 * The one place a process handles SIGTERM and SIGINT. Components register
 * callbacks, which run in reverse order of registration (last started,
 * first stopped). A second signal exits at once.
 */
export class Shutdown {
  private readonly callbacks: Array<{ name: string; run: ShutdownCallback }> = [];
  private state: ProcessLifecycle = 'starting';
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly exit: (code: number) => void = (code) => process.exit(code),
  ) {}

  get lifecycle(): ProcessLifecycle {
    return this.state;
  }

  register(name: string, run: ShutdownCallback): void {
    this.callbacks.push({ name, run });
  }

  markRunning(): void {
    if (this.state === 'starting') this.state = 'running';
  }

  /** Installs the signal handlers; call once per process. */
  listen(): void {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.on(signal, () => {
        if (this.stopping) {
          this.logger.warn({ signal }, 'second signal: exiting now');
          this.exit(1);
          return;
        }
        void this.stop(signal).then((code) => this.exit(code));
      });
    }
  }

  /** Runs every callback once; safe to call twice (the second call waits for the first). */
  async stop(reason: string): Promise<number> {
    let failed = false;
    this.stopping ??= (async () => {
      this.state = 'stopping';
      this.logger.info({ reason }, 'shutting down');
      for (const { name, run } of [...this.callbacks].reverse()) {
        try {
          await run(reason);
        } catch (error) {
          failed = true;
          this.logger.error({ component: name, err: logText(error) }, 'shutdown step failed');
        }
      }
      this.state = 'stopped';
      this.logger.info('stopped');
    })();
    await this.stopping;
    return failed ? 1 : 0;
  }
}
