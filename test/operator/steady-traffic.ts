/**
 * Steady traffic for the operator's tests, where no kubelet runs pods: a
 * producer adding entries at a fixed rate, and workers simulated from the
 * Deployment itself (each replica it asks for is reported ready and takes
 * a fixed number of entries a second).
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { KubeApiServer } from '../support/kube-apiserver.js';
import { deploymentReplicas, simulateRollout, takeEntries } from './support.js';

const TICK_MS = 100;
const DEPLOYMENT_CHECK_MS = 500;

export interface SteadyTrafficOptions {
  kube: KubeApiServer;
  redis: Redis;
  namespace: string;
  pool: string;
  stream: string;
  group: string;
  arrivalsPerSecond: number;
  perReplicaPerSecond: number;
}

export class SteadyTraffic {
  private producing = true;
  private running = true;
  private readonly done: Promise<void>;
  /** Replicas the simulated workers run (the Deployment's, once seen). */
  replicas = 0;

  constructor(private readonly options: SteadyTrafficOptions) {
    this.done = Promise.all([this.produce(), this.consume()]).then(() => undefined);
  }

  /** Stops adding entries; the workers carry on. */
  stopArrivals(): void {
    this.producing = false;
  }

  async stop(): Promise<void> {
    this.producing = false;
    this.running = false;
    await this.done;
  }

  /** Adds entries at the rate on average, whatever the timer's jitter. */
  private async produce(): Promise<void> {
    const { redis, stream, arrivalsPerSecond } = this.options;
    const started = Date.now();
    let added = 0;
    while (this.producing) {
      const due = Math.floor(((Date.now() - started) * arrivalsPerSecond) / 1000) - added;
      if (due > 0) {
        const pipeline = redis.pipeline();
        for (let i = 0; i < due; i++) pipeline.xadd(stream, '*', 'n', String(added + i));
        await pipeline.exec();
        added += due;
      }
      await delay(TICK_MS);
    }
  }

  /** Takes entries as `replicas` workers would, each at perReplicaPerSecond. */
  private async consume(): Promise<void> {
    const { redis, stream, group, perReplicaPerSecond, pool } = this.options;
    let budget = 0;
    let last = Date.now();
    let checked = 0;
    while (this.running) {
      if (Date.now() - checked >= DEPLOYMENT_CHECK_MS) {
        checked = Date.now();
        await this.followDeployment();
      }
      const now = Date.now();
      // Work not done in an idle moment is not saved up for later.
      budget = Math.min(
        budget + ((now - last) * this.replicas * perReplicaPerSecond) / 1000,
        this.replicas * perReplicaPerSecond,
      );
      last = now;
      const count = Math.floor(budget);
      if (count > 0) {
        budget -= await takeEntries(redis, stream, group, `${pool}-simulated`, count);
      }
      await delay(TICK_MS);
    }
  }

  /** Plays the Deployment controller: what the Deployment asks for is running and ready. */
  private async followDeployment(): Promise<void> {
    const { kube, namespace, pool } = this.options;
    const wanted = (await deploymentReplicas(kube, namespace, pool)) ?? 0;
    if (wanted !== this.replicas) {
      await simulateRollout(kube, namespace, pool);
      this.replicas = wanted;
    }
  }
}
