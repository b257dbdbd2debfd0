/** Counts free slots; `acquire` waits for one. */
export class Semaphore {
  private waiting: Array<() => void> = [];

  constructor(private free: number) {}

  get available(): number {
    return this.free;
  }

  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free -= 1;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free += 1;
  }
}
