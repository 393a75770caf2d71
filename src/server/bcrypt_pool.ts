/**
 * bcrypt comparisons off the server's thread: a few worker threads behind a bounded queue.
 *
 * One comparison takes tens of milliseconds of CPU by design. Run on the thread that serves
 * requests, a handful of clients sending wrong passwords stall every other client; here they only
 * wait for each other, and past {@link BcryptPoolOptions.maxQueue} waiting checks new ones are
 * refused at once instead of piling up.
 *
 * Where worker threads cannot start (a bundle without the worker's module), comparisons run on the
 * calling thread, one at a time, behind the same bounded queue.
 *
 * @module
 */
import bcrypt from "bcryptjs";

const WORKER_URL = new URL("./bcrypt_worker.ts", import.meta.url);

/** Whether the worker's module can be there (a bundle is one file: it has no module beside it). */
function workerModuleExists(): boolean {
  if (WORKER_URL.protocol !== "file:") return true;
  try {
    Deno.statSync(WORKER_URL);
    return true;
  } catch {
    return false;
  }
}

/** Options of {@link BcryptPool}. */
export interface BcryptPoolOptions {
  /** Worker threads (default: one less than the cores, at least 1, at most 4). */
  threads?: number;
  /** Comparisons waiting for a thread; more are refused (default 64). */
  maxQueue?: number;
}

/** Thrown by {@link BcryptPool.compare} when the queue is full. */
export class BcryptBusyError extends Error {
  constructor() {
    super("too many password checks waiting");
    this.name = "BcryptBusyError";
  }
}

interface Job {
  password: string;
  hash: string;
  resolve: (ok: boolean) => void;
  reject: (err: Error) => void;
}

/** Worker threads comparing passwords with bcrypt hashes, started on first use. */
export class BcryptPool {
  #threads: number;
  #maxQueue: number;
  #idle: Worker[] = [];
  #all: Worker[] = [];
  #running = new Map<Worker, { id: number; job: Job }>();
  #queue: Job[] = [];
  #next = 0;
  /** Set when a worker failed to start or run: comparisons then run on this thread. */
  #inline = false;
  #inlineBusy = false;

  constructor(options: BcryptPoolOptions = {}) {
    const cores = navigator.hardwareConcurrency ?? 2;
    this.#threads = Math.max(1, options.threads ?? Math.min(4, cores - 1));
    this.#maxQueue = options.maxQueue ?? 64;
  }

  /**
   * Whether `password` matches the bcrypt `hash`.
   *
   * @throws {BcryptBusyError} when {@link BcryptPoolOptions.maxQueue} checks are already waiting.
   */
  compare(password: string, hash: string): Promise<boolean> {
    if (this.#queue.length >= this.#maxQueue) return Promise.reject(new BcryptBusyError());
    return new Promise((resolve, reject) => {
      this.#queue.push({ password, hash, resolve, reject });
      this.#pump();
    });
  }

  /** Stops the worker threads; a later comparison starts them again. */
  close(): void {
    for (const worker of this.#all) worker.terminate();
    for (const { job } of this.#running.values()) job.reject(new Error("bcrypt pool closed"));
    for (const job of this.#queue) job.reject(new Error("bcrypt pool closed"));
    this.#all = [];
    this.#idle = [];
    this.#running.clear();
    this.#queue = [];
  }

  #pump(): void {
    if (this.#inline) {
      this.#pumpInline();
      return;
    }
    while (this.#queue.length > 0) {
      const worker = this.#idle.pop() ?? this.#start();
      if (worker === undefined) return;
      const job = this.#queue.shift()!;
      const id = this.#next++;
      this.#running.set(worker, { id, job });
      worker.postMessage({ id, password: job.password, hash: job.hash });
    }
  }

  #start(): Worker | undefined {
    if (this.#all.length >= this.#threads) return undefined;
    let worker: Worker;
    try {
      if (this.#all.length === 0 && !workerModuleExists()) throw new Error("no worker module");
      worker = new Worker(new URL("./bcrypt_worker.ts", import.meta.url), { type: "module" });
    } catch {
      this.#fallBack();
      return undefined;
    }
    worker.onmessage = (event: MessageEvent) => {
      const { id, ok } = event.data as { id: number; ok: boolean };
      const running = this.#running.get(worker);
      if (running === undefined || running.id !== id) return;
      this.#running.delete(worker);
      this.#idle.push(worker);
      running.job.resolve(ok);
      this.#pump();
    };
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#fallBack();
    };
    this.#all.push(worker);
    return worker;
  }

  /** Workers are unusable here: their jobs go back to the queue and run on this thread. */
  #fallBack(): void {
    if (this.#inline) return;
    this.#inline = true;
    for (const worker of this.#all) worker.terminate();
    const orphans = [...this.#running.values()].map((r) => r.job);
    this.#all = [];
    this.#idle = [];
    this.#running.clear();
    this.#queue.unshift(...orphans);
    this.#pumpInline();
  }

  async #pumpInline(): Promise<void> {
    if (this.#inlineBusy) return;
    this.#inlineBusy = true;
    try {
      for (let job = this.#queue.shift(); job !== undefined; job = this.#queue.shift()) {
        // bcryptjs's async form yields to the event loop between slices of rounds.
        job.resolve(await bcrypt.compare(job.password, job.hash).catch(() => false));
      }
    } finally {
      this.#inlineBusy = false;
    }
  }
}
