/**
 * An outage of a dependency, told once: a dependency that keeps failing on every request or every export (Redis
 * behind the cache or the rate limits, the OTLP collector) must write one line when it goes down and one when it is
 * back, never one per call. `failed()` is true only for the first failure since the last success (log the start
 * there); `answered()` is true only for the first success after a failure (log the end there). Counting every failure
 * stays the caller's (a metric).
 */
export class Outage {
  private down = false;

  /** Records a failure; true when it starts an outage. */
  failed(): boolean {
    const first = !this.down;
    this.down = true;
    return first;
  }

  /** Records a success; true when it ends an outage. */
  answered(): boolean {
    const back = this.down;
    this.down = false;
    return back;
  }
}
