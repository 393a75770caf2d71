/**
 * Entries of a layer tarball, as written and as read.
 *
 * @module
 */

/** Fields every written entry has. */
interface EntryBase {
  /**
   * Path inside the layer, `/`-separated. A leading `/` or `./` is dropped; `..` is rejected.
   */
  path: string;
  /** Permission bits (`0o755`); setuid, setgid and sticky are kept, file-type bits ignored. */
  mode: number;
  /** Owner; default 0. */
  uid?: number;
  /** Group; default 0. */
  gid?: number;
  /** Modification time in seconds since the epoch (fractions dropped); default 0. */
  mtime?: number;
}

/** A regular file. */
export interface FileEntry extends EntryBase {
  kind: "file";
  /** Exact content length; the writer fails when the content is longer or shorter. */
  size: number;
  /**
   * Opens the content. Called once, when the writer reaches this entry, and read to the end
   * before the next entry is taken; may be omitted when `size` is 0.
   */
  open?: () => ReadableStream<Uint8Array> | Promise<ReadableStream<Uint8Array>>;
  /**
   * Opens the content as a reader into the writer's own buffers; preferred over `open` when given
   * (nothing is allocated per read). Called once, like `open`; the writer closes it.
   */
  reader?: () => Promise<ContentReader>;
}

/**
 * A source that fills the caller's buffer, as `Deno.FsFile` does: `read` resolves to the number
 * of bytes read into `into` (at least 1 when `into` is not empty), or null at the end.
 */
export interface ContentReader {
  read(into: Uint8Array): Promise<number | null>;
  close(): void;
}

/** A directory. */
export interface DirEntry extends EntryBase {
  kind: "dir";
}

/** A symbolic link; `target` is stored as given (it may be absolute). */
export interface SymlinkEntry extends EntryBase {
  kind: "symlink";
  target: string;
}

/** A hard link to an earlier entry of the same layer; `target` is that entry's path. */
export interface HardlinkEntry extends EntryBase {
  kind: "hardlink";
  target: string;
}

/** An entry to write into a layer. */
export type LayerEntry = FileEntry | DirEntry | SymlinkEntry | HardlinkEntry;

/** Digests and sizes of a written layer. */
export interface LayerResult {
  /** Digest of the blob as stored (compressed when compression is on). */
  digest: `sha256:${string}`;
  /** Size of the blob as stored. */
  size: number;
  /** Digest of the uncompressed tar: the config's `rootfs.diff_ids` entry. */
  diffId: `sha256:${string}`;
  /** Size of the uncompressed tar. */
  uncompressedSize: number;
}

/** Fields every read entry has. */
interface ReadBase {
  /** Normalised path (no leading `/` or `./`, no trailing `/`). */
  path: string;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  /** Seconds since the epoch (PAX fractions dropped). */
  mtime: number;
  /** PAX records of the entry (`SCHILY.xattr.*`, `path`...). */
  pax: Record<string, string>;
}

/** An entry read from a layer. */
export type ReadEntry =
  | ReadBase & {
    kind: "file";
    size: number;
    /**
     * The content; valid until the iteration moves on (unread bytes are then skipped).
     */
    body: ReadableStream<Uint8Array>;
  }
  | ReadBase & { kind: "dir" }
  | ReadBase & { kind: "symlink"; target: string }
  | ReadBase & { kind: "hardlink"; target: string }
  /** `.wh.<name>`: `path` is the deleted path (`dir/name`). */
  | ReadBase & { kind: "whiteout" }
  /** `.wh..wh..opq`: `path` is the directory whose lower contents are hidden. */
  | ReadBase & { kind: "opaque" }
  | ReadBase & { kind: "char" | "block" | "fifo"; devmajor: number; devminor: number };
