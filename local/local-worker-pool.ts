import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Env } from '../core/config/parse.js';
import { freePort } from './process.js';

/** What an autoscaler drives: the operator's is a Deployment, the local mode's are processes. */
export interface ScaleTarget {
  readonly replicas: number;
  /** How many of them are ready to work. */
  readyCount(): Promise<number>;
  scaleTo(replicas: number, idleConsumers?: ReadonlySet<string>): Promise<void>;
}

export interface WorkerExit {
  name: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when it exited on its own after SIGTERM, inside the drain deadline. */
  drained: boolean;
  stoppedAt: number;
}

interface LocalWorker {
  name: string;
  port: number;
  child: ChildProcess;
  exited: Promise<WorkerExit>;
  stopping: boolean;
}

export interface LocalWorkerPoolOptions {
  /** The compiled CLI (dist/cli/main.js). */
  cliPath: string;
  /** Environment every worker gets (DATABASE_URL, REDIS_URL, …). */
  env: Env;
  drainTimeoutMs: number;
  logDir: string;
}

/**
 * Worker processes on this machine, started and stopped the way Kubernetes
 * treats pods: SIGTERM, the drain deadline plus a margin, then SIGKILL.
 */
export class LocalWorkerPool implements ScaleTarget {
  private readonly workers: LocalWorker[] = [];
  private nextIndex = 1;
  readonly exits: WorkerExit[] = [];

  constructor(private readonly options: LocalWorkerPoolOptions) {
    fs.mkdirSync(options.logDir, { recursive: true });
  }

  get replicas(): number {
    return this.workers.filter((w) => !w.stopping).length;
  }

  /** How many answer /readyz with 200. */
  async readyCount(): Promise<number> {
    const answers = await Promise.all(
      this.workers.filter((w) => !w.stopping).map((w) => ready(w.port)),
    );
    return answers.filter(Boolean).length;
  }

  async scaleTo(replicas: number, idleConsumers: ReadonlySet<string> = new Set()): Promise<void> {
    while (this.replicas < replicas) await this.startOne();
    const surplus = this.replicas - replicas;
    if (surplus <= 0) return;
    // Idle workers go first, newest first, so busy ones keep their work (like pod-deletion-cost).
    const running = this.workers.filter((w) => !w.stopping).reverse();
    const victims = [
      ...running.filter((w) => idleConsumers.has(w.name)),
      ...running.filter((w) => !idleConsumers.has(w.name)),
    ].slice(0, surplus);
    await Promise.all(victims.map((w) => this.stopOne(w)));
  }

  private async startOne(): Promise<void> {
    const name = `local-worker-${this.nextIndex++}`;
    const port = await freePort();
    const log = fs.openSync(path.join(this.options.logDir, `${name}.log`), 'a');
    const child = spawn(process.execPath, [this.options.cliPath, 'worker'], {
      env: { ...this.options.env, POD_NAME: name, PORT: String(port) },
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    const worker: LocalWorker = {
      name,
      port,
      child,
      stopping: false,
      exited: Promise.resolve() as never,
    };
    worker.exited = new Promise<WorkerExit>((resolve) => {
      child.once('exit', (code, signal) => {
        const exit = {
          name,
          code,
          signal,
          drained: worker.stopping && code === 0,
          stoppedAt: Date.now(),
        };
        this.exits.push(exit);
        const index = this.workers.indexOf(worker);
        if (index >= 0) this.workers.splice(index, 1);
        resolve(exit);
      });
    });
    this.workers.push(worker);
  }

  private async stopOne(worker: LocalWorker): Promise<WorkerExit> {
    worker.stopping = true;
    worker.child.kill('SIGTERM');
    const killer = setTimeout(
      () => worker.child.kill('SIGKILL'),
      this.options.drainTimeoutMs + 5_000,
    );
    const exit = await worker.exited;
    clearTimeout(killer);
    return exit;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.workers.map((w) => this.stopOne(w)));
  }
}

async function ready(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/readyz`, {
      signal: AbortSignal.timeout(1_000),
    });
    return response.status === 200;
  } catch {
    return false;
  }
}
