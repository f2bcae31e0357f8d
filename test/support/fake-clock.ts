import type { Clock } from '../../lambda/callback/ports';

/**
 * A clock tests move by hand. Its abort signals (`abortAfter`) fire when it passes their
 * time, so timeouts and deadlines are tested without real waiting.
 */
export class FakeClock implements Clock {
  private readonly timers = new Map<AbortSignal, { at: number; controller: AbortController }>();

  constructor(public t = Date.UTC(2026, 10, 22, 12)) {}

  now(): number {
    return this.t;
  }

  abortAfter(ms: number): AbortSignal {
    const controller = new AbortController();
    this.timers.set(controller.signal, { at: this.t + ms, controller });
    return controller.signal;
  }

  /** When `signal` (made by this clock) fires; undefined for any other signal. */
  abortsAt(signal: AbortSignal | null | undefined): number | undefined {
    return signal ? this.timers.get(signal)?.at : undefined;
  }

  /** Moves time on, firing every signal whose time has come, as AbortSignal.timeout does. */
  advance(ms: number): void {
    this.t += ms;
    for (const [signal, { at, controller }] of this.timers) {
      if (at > this.t) continue;
      this.timers.delete(signal);
      controller.abort(
        new DOMException('The operation was aborted due to timeout', 'TimeoutError'),
      );
    }
  }

  /**
   * A call that takes `ms` unless `signal` fires first: time moves to whichever comes
   * first; then it returns, or throws the signal's reason as an aborted fetch does.
   */
  async spend(ms: number, signal?: AbortSignal | null): Promise<void> {
    const at = this.abortsAt(signal);
    if (at !== undefined && at < this.t + ms) {
      this.advance(Math.max(0, at - this.t));
      throw signal!.reason;
    }
    this.advance(ms);
  }
}
