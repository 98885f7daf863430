/**
 * The `done` promise of a packet source with its settle functions. Pre-caught, so a
 * caller that never awaits `done` does not crash the process on a rejection.
 */
export class Completion {
  readonly promise: Promise<void>;
  resolve!: () => void;
  reject!: (err: Error) => void;

  constructor() {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.promise.catch(() => undefined);
  }
}
