/**
 * A {@link Target} over read-only archive content: pushes and tags are refused.
 *
 * @module
 */
import { FerryError } from "../errors.ts";
import type { Descriptor } from "../manifest.ts";
import type { FetchOptions, Target } from "../store.ts";

/** What a read-only archive repository can do. */
export interface ReadOps {
  resolve(repository: string, reference: string): Promise<Descriptor>;
  tags(repository: string): Promise<string[]>;
  fetch(desc: Descriptor, options: FetchOptions): Promise<ReadableStream<Uint8Array>>;
  exists(desc: Descriptor): Promise<boolean>;
  /** The archive's OCI 1.1 referrers of `subject`, where the format keeps them. */
  referrers?(subject: Descriptor): Promise<Descriptor[]>;
}

/** One repository of a read-only archive store. */
export class ReadOnlyTarget implements Target {
  readonly name: string;
  readonly location: string;
  #ops: ReadOps;

  constructor(name: string, storeLocation: string, ops: ReadOps) {
    this.name = name;
    this.location = name === "" ? storeLocation : `${storeLocation}:${name}`;
    this.#ops = ops;
  }

  resolve(reference: string): Promise<Descriptor> {
    return this.#ops.resolve(this.name, reference);
  }

  fetch(desc: Descriptor, options: FetchOptions = {}): Promise<ReadableStream<Uint8Array>> {
    return this.#ops.fetch(desc, options);
  }

  exists(desc: Descriptor): Promise<boolean> {
    return this.#ops.exists(desc);
  }

  /** The referrers of `subject` the archive lists, or undefined when its format keeps none. */
  async referrers(subject: Descriptor): Promise<Descriptor[] | undefined> {
    return this.#ops.referrers ? await this.#ops.referrers(subject) : undefined;
  }

  push(): Promise<void> {
    return Promise.reject(this.#readOnly());
  }

  tag(): Promise<void> {
    return Promise.reject(this.#readOnly());
  }

  tags(): Promise<string[]> {
    return this.#ops.tags(this.name);
  }

  #readOnly(): FerryError {
    return new FerryError(
      "unsupported",
      `${this.location}: archives are read-only; write a new one with ferry save`,
    );
  }
}
