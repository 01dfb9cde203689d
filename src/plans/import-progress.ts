// Progress of a long CLI job on stderr: a redrawn bar on a terminal (about 5 times a second),
// plain lines (once a second) when stderr is a pipe or a file.

export interface ProgressSink {
  /** Starts a phase; `total` is what `update`'s `done` counts towards. */
  phase(name: string, total: number): void;
  update(done: number, rows: number): void;
  /** Shows the phase's final numbers and closes it. */
  finish(done: number, rows: number): void;
  end(): void;
  /** A line for the operator (an unfinished earlier import, a resumed one). */
  note?(text: string): void;
}

export const silentProgress: ProgressSink = { phase() {}, update() {}, finish() {}, end() {} };

export class StderrProgress implements ProgressSink {
  readonly #out: NodeJS.WriteStream;
  readonly #tty: boolean;
  readonly #intervalMs: number;
  #name = '';
  #total = 0;
  #started = 0;
  #last = 0;
  #shownDone = -1;
  #drawn = false;

  constructor(out: NodeJS.WriteStream = process.stderr) {
    this.#out = out;
    this.#tty = out.isTTY === true;
    this.#intervalMs = this.#tty ? 200 : 1000;
  }

  phase(name: string, total: number): void {
    this.end();
    this.#name = name;
    this.#total = total;
    this.#started = performance.now();
    this.#last = 0;
    this.#shownDone = -1;
  }

  update(done: number, rows: number, force = false): void {
    const now = performance.now();
    if (!force && now - this.#last < this.#intervalMs) return;
    this.#last = now;
    this.#shownDone = done;
    const seconds = (now - this.#started) / 1000;
    const fraction = this.#total > 0 ? Math.min(1, done / this.#total) : 1;
    const rate = seconds > 0 ? Math.round(rows / seconds) : 0;
    const text = `${this.#name.padEnd(10)} ${(fraction * 100).toFixed(1).padStart(5)}%  ${rows.toLocaleString('en-US')} rows  ${rate.toLocaleString('en-US')} rows/s  ${seconds.toFixed(1)} s`;
    if (this.#tty) {
      const width = 30;
      const filled = Math.round(fraction * width);
      this.#out.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${text}\x1b[K`);
      this.#drawn = true;
    } else {
      this.#out.write(`${text}\n`);
    }
  }

  finish(done: number, rows: number): void {
    if (this.#shownDone !== done || this.#tty) this.update(done, rows, true);
    this.end();
  }

  note(text: string): void {
    this.end();
    this.#out.write(`${text}\n`);
  }

  end(): void {
    if (this.#drawn) this.#out.write('\n');
    this.#drawn = false;
  }
}
