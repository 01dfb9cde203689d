// Polls `read` until `done` holds, for state that changes in the background (a worker, a
// delivery report); fails naming `what` and the last value seen.
export async function until<T>(
  what: string, read: () => Promise<T>, done: (v: T) => boolean, ms = 20_000, show: (v: T) => string = (v) => JSON.stringify(v),
): Promise<T> {
  const by = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > by) throw new Error(`${what}: ${show(v).slice(0, 1000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
