/**
 * The tar format, for image archives, layer tarballs and Helm charts alike: reproducible ustar
 * headers (PAX records only when a value does not fit), reading ustar, PAX and GNU headers, and
 * a streaming entry reader whose every header is checked within bounds on headers, names and
 * metadata.
 *
 * ```ts
 * const tar = new TarReader(file.readable.pipeThrough(new DecompressionStream("gzip")));
 * for (let h = await tar.next(); h !== null; h = await tar.next()) {
 *   if (h.typeflag === TYPE.file) await tar.body(h.name).pipeTo(sink);
 * }
 * ```
 *
 * @module
 */
export {
  BLOCK,
  decodeHeader,
  encodeHeader,
  endOfArchive,
  entryType,
  hasData,
  type HeaderFields,
  isMetaType,
  isZeroBlock,
  padding,
  parsePax,
  type RawHeader,
  type TarEntryType,
  TYPE,
} from "./header.ts";
export {
  DEFAULT_TAR_LIMITS,
  type HeaderStep,
  type TarEntryHeader,
  TarEntryParser,
  type TarLimits,
} from "./entry_parser.ts";
export { TarReader, type TarReaderOptions } from "./reader.ts";
