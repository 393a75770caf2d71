/**
 * Blob upload sessions: `POST` opens one, `PATCH` appends chunks in order, `PUT ?digest=` appends
 * the last chunk and commits, `DELETE` cancels.
 *
 * Each session streams into a data file the backend keeps (for a registry directory the place
 * distribution uses, `repositories/<name>/_uploads/<id>/data`: see ../registry_dir/uploads.ts),
 * hashing as bytes arrive, so the commit needs no second pass over the data. The hasher lives in memory; a session found on disk
 * without one (after a restart, or after a chunk that failed midway and was cut back) is re-hashed
 * from its file when next used. Requests on one session run one at a time.
 *
 * @module
 */
import { type Digest, Sha256 } from "../digest.ts";
import { writeAll } from "../fs_util.ts";
import type { ServerBackend } from "./backend.ts";
import { httpError } from "./errors.ts";
import type { ByteRange } from "./range.ts";

/** Bytes gathered before one write: request bodies arrive in small chunks. */
const WRITE_BATCH = 1024 * 1024;

/** One upload in progress. */
export interface UploadSession {
  /** Repository the blob is for. */
  readonly name: string;
  /** Session id (a UUID). */
  readonly id: string;
  /** Bytes received so far. */
  readonly size: number;
}

interface SessionState extends UploadSession {
  /** When the session was opened (ms since the epoch), or undefined when found on disk. */
  readonly startedAt?: number;
  size: number;
  /** Hash of the `size` bytes received; undefined when it must be recomputed from the file. */
  hasher?: Sha256;
  /** Tail of the queue of requests on this session. */
  queue: Promise<void>;
  /** Committed or cancelled. */
  ended: boolean;
}

/** The upload sessions of one server. */
export class UploadSessions {
  #backend: ServerBackend;
  #sessions = new Map<string, SessionState>();

  constructor(backend: ServerBackend) {
    this.#backend = backend;
  }

  /** Opens a session for `name`: an empty data file under a fresh id. */
  async create(name: string): Promise<UploadSession> {
    const id = crypto.randomUUID();
    await this.#backend.createUpload(name, id);
    const state: SessionState = {
      name,
      id,
      startedAt: Date.now(),
      size: 0,
      hasher: await Sha256.create(),
      queue: Promise.resolve(),
      ended: false,
    };
    this.#sessions.set(key(name, id), state);
    return state;
  }

  /**
   * The session `id` of `name`: held in memory, or left on disk by an earlier run (see
   * {@link ServerBackend.findUpload}: never one reached through a symlink, nor another
   * repository's).
   */
  async get(name: string, id: string): Promise<UploadSession | undefined> {
    const known = this.#sessions.get(key(name, id));
    if (known) return known;
    const size = await this.#backend.findUpload(name, id);
    if (size === undefined) return undefined;
    const raced = this.#sessions.get(key(name, id));
    if (raced) return raced;
    const state: SessionState = {
      name,
      id,
      size,
      queue: Promise.resolve(),
      ended: false,
    };
    this.#sessions.set(key(name, id), state);
    return state;
  }

  /**
   * Appends a request body. With `range`, the chunk must start where the session ends (else 416
   * `RANGE_INVALID`) and hold exactly `range.end - range.start + 1` bytes (else 400
   * `SIZE_INVALID`). A chunk that fails midway is cut back off, leaving the session as it was.
   */
  async append(
    session: UploadSession,
    body: ReadableStream<Uint8Array> | null,
    range?: ByteRange,
  ): Promise<UploadSession> {
    const state = this.#state(session);
    return await this.#serial(state, async () => {
      this.#alive(state);
      await this.#write(state, body, range);
      return state;
    });
  }

  /**
   * Appends an optional last chunk, checks the whole upload against `digest`, and commits it into
   * the repository. A mismatch ends the session (as in distribution) with 400 `DIGEST_INVALID`.
   */
  async finish(
    session: UploadSession,
    digest: Digest,
    body: ReadableStream<Uint8Array> | null,
    range?: ByteRange,
  ): Promise<{ digest: Digest; size: number }> {
    const state = this.#state(session);
    return await this.#serial(state, async () => {
      this.#alive(state);
      await this.#write(state, body, range);
      const hasher = state.hasher ?? await this.#rehash(state);
      state.hasher = undefined;
      const got = hasher.digest();
      if (got !== digest) {
        await this.#end(state);
        throw httpError(400, "DIGEST_INVALID", `upload has digest ${got}, not ${digest}`, {
          detail: { digest },
        });
      }
      const file = await this.#backend.openUpload(state.name, state.id, { write: true });
      try {
        await file.sync();
      } finally {
        file.close();
      }
      try {
        await this.#backend.commitUpload(state.name, state.id, { digest, size: hasher.size });
      } finally {
        await this.#end(state);
      }
      return { digest, size: hasher.size };
    });
  }

  /**
   * Removes the sessions opened before `cutoff` (ms since the epoch), in memory and on disk, as
   * distribution's upload purger does: an abandoned push must not hold disk space forever. A
   * session on disk is dated by its `startedat` file (written by ferry and docker-registry), else
   * by its directory's mtime. Returns how many were removed.
   */
  async purge(cutoff: number): Promise<number> {
    let removed = 0;
    const stale = async (state: SessionState) => {
      await this.#serial(state, async () => {
        if (state.ended) return;
        await this.#end(state);
        removed++;
      });
    };
    for (const state of [...this.#sessions.values()]) {
      if (state.startedAt !== undefined && state.startedAt < cutoff) await stale(state);
    }
    for (const upload of await this.#backend.storedUploads()) {
      const known = this.#sessions.get(key(upload.name, upload.id));
      if (known?.startedAt !== undefined) continue;
      const started = await this.#backend.uploadStartedAt(upload.name, upload.id);
      if (started === undefined || started >= cutoff) continue;
      if (known) {
        await stale(known);
      } else {
        await this.#backend.removeUpload(upload.name, upload.id);
        removed++;
      }
    }
    return removed;
  }

  /** Cancels a session and removes its files. */
  async cancel(session: UploadSession): Promise<void> {
    const state = this.#state(session);
    await this.#serial(state, async () => {
      this.#alive(state);
      await this.#end(state);
    });
  }

  #state(session: UploadSession): SessionState {
    const state = this.#sessions.get(key(session.name, session.id));
    if (!state) throw unknownUpload();
    return state;
  }

  #alive(state: SessionState): void {
    if (state.ended) throw unknownUpload();
  }

  async #end(state: SessionState): Promise<void> {
    state.ended = true;
    this.#sessions.delete(key(state.name, state.id));
    await this.#backend.removeUpload(state.name, state.id);
  }

  /** Runs `fn` after every earlier request on the session has finished. */
  async #serial<T>(state: SessionState, fn: () => Promise<T>): Promise<T> {
    const before = state.queue;
    let done!: () => void;
    state.queue = new Promise<void>((resolve) => done = resolve);
    try {
      await before;
      return await fn();
    } finally {
      done();
    }
  }

  /** The hash of the session's bytes, read back from its data file. */
  async #rehash(state: SessionState): Promise<Sha256> {
    return rehash(await this.#backend.openUpload(state.name, state.id), state.size);
  }

  async #write(
    state: SessionState,
    body: ReadableStream<Uint8Array> | null,
    range: ByteRange | undefined,
  ): Promise<void> {
    if (range && range.start !== state.size) {
      await body?.cancel().catch(() => {});
      throw httpError(
        416,
        "RANGE_INVALID",
        `chunk starts at ${range.start}, upload has ${state.size} bytes`,
        { headers: { Range: rangeHeader(state.size) } },
      );
    }
    if (!body) {
      if (range) throw sizeInvalid(range.end - range.start + 1, 0);
      return;
    }
    const expected = range ? range.end - range.start + 1 : undefined;
    const start = state.size;
    state.hasher ??= await this.#rehash(state);
    const hasher = state.hasher;
    const file = await this.#backend.openUpload(state.name, state.id, { write: true });
    const batch = new Uint8Array(WRITE_BATCH);
    let filled = 0;
    let received = 0;
    try {
      await file.seek(start, Deno.SeekMode.Start);
      const reader = body.getReader();
      try {
        for (;;) {
          let next: ReadableStreamReadResult<Uint8Array>;
          try {
            next = await reader.read();
          } catch {
            throw httpError(
              400,
              "SIZE_INVALID",
              "request body ended before its Content-Length",
            );
          }
          if (next.done) break;
          const chunk = next.value;
          received += chunk.byteLength;
          if (expected !== undefined && received > expected) throw sizeInvalid(expected, received);
          hasher.update(chunk);
          if (filled + chunk.byteLength > WRITE_BATCH && filled > 0) {
            await writeAll(file, batch.subarray(0, filled));
            filled = 0;
          }
          if (chunk.byteLength >= WRITE_BATCH) {
            await writeAll(file, chunk);
          } else {
            batch.set(chunk, filled);
            filled += chunk.byteLength;
          }
        }
      } catch (err) {
        await reader.cancel().catch(() => {});
        throw err;
      }
      await writeAll(file, batch.subarray(0, filled));
      if (expected !== undefined && received !== expected) throw sizeInvalid(expected, received);
      state.size = start + received;
    } catch (err) {
      // Back to the last good state: the bytes of this chunk are dropped and the hash is redone
      // from the file when next needed.
      await file.truncate(start).catch(() => {});
      state.hasher = undefined;
      state.size = start;
      throw err;
    } finally {
      file.close();
    }
  }
}

/** The upload-progress `Range` header: `0-<last byte>` (distribution sends `0-0` when empty). */
export function rangeHeader(size: number): string {
  return `0-${Math.max(0, size - 1)}`;
}

function key(name: string, id: string): string {
  return `${name}\n${id}`;
}

function unknownUpload() {
  return httpError(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry");
}

function sizeInvalid(expected: number, got: number) {
  return httpError(
    400,
    "SIZE_INVALID",
    `chunk has ${
      got > expected ? "more than " : ""
    }${got} bytes, its Content-Range says ${expected}`,
  );
}

/** Hashes the first `size` bytes of a session's data file, and closes it. */
async function rehash(file: Deno.FsFile, size: number): Promise<Sha256> {
  const hasher = await Sha256.create();
  try {
    const buffer = new Uint8Array(WRITE_BATCH);
    while (hasher.size < size) {
      const n = await file.read(
        buffer.subarray(0, Math.min(buffer.byteLength, size - hasher.size)),
      );
      if (n === null) break;
      hasher.update(buffer.subarray(0, n));
    }
  } finally {
    file.close();
  }
  return hasher;
}
