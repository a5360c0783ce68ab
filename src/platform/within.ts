/**
 * `work`'s outcome, or a rejection with `new Error(message)` when it has not settled within `ms` milliseconds. The
 * timer is cleared as soon as either settles (it never keeps the process alive after the work); the work itself is
 * not cancelled: it goes on in the background, and its later outcome is ignored.
 */
export async function within<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}
