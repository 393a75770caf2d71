/**
 * Result types of build-context discovery.
 *
 * @module
 */
import type { ArchiveTransport } from "../transfer/location.ts";

/**
 * Which rule found an image.
 *
 * - `shim`: a line of a plain list under `images/shim/`.
 * - `manifest-line`: the Sealos line scanner (`image:` substring) over a file under `manifests/`.
 * - `manifest-yaml`: the YAML-aware walk over a file under `manifests/`, for what the line scanner missed.
 * - `chart`: a chart rendered with `helm template`.
 * - `chart-values`: a chart's merged values, when helm is not used.
 * - `chart-annotation`: a chart's `helm.sh/images` or `artifacthub.io/images` annotation, when helm is not used.
 * - `chart-template-line`: a literal `image:` line of a chart template, when helm is not used.
 * - `tar`: a line of `images/skopeo/tar.txt`.
 */
export type DiscoveryRule =
  | "shim"
  | "manifest-line"
  | "manifest-yaml"
  | "chart"
  | "chart-values"
  | "chart-annotation"
  | "chart-template-line"
  | "tar";

/**
 * Where an image was found.
 *
 * `file` is relative to the context directory, `/`-separated. For charts, paths inside a chart
 * archive continue after the archive's own path (`charts/demo-1.0.0.tgz/values.yaml`), and for a
 * rendered template `line` counts within that template's rendered output.
 */
export interface ImageSource {
  /** File relative to the context directory. */
  file: string;
  /** 1-based line number. */
  line: number;
  /** Rule that found the image. */
  rule: DiscoveryRule;
  /**
   * Set when the image is named in an environment variable's value (`env`) or in a container's
   * `args`/`command` (`args`): a reference, not an image the workload runs.
   */
  referencedIn?: "env" | "args";
  /**
   * Set for rule `chart` when `line` could not be mapped to one line of the template's source:
   * `line` then counts lines of that template's rendered output, as
   * `helm template … --show-only <template>` prints it.
   */
  rendered?: true;
}

/** One image to save, with every place it was found. */
export interface DiscoveredImage {
  /**
   * The image as Sealos lists it: shim entries verbatim (`nginx` stays `nginx`), everything else
   * normalised (`docker.io/library/nginx:1`). Unlike Sealos, a `tag@digest` keeps its digest.
   */
  image: string;
  /**
   * Other spellings of the same image (a shim list's `nginx:1` beside a manifest's
   * `docker.io/library/nginx:1`): one image, saved once. Absent when there are none.
   */
  aliases?: string[];
  /** Where it was found, sorted by file, line and rule. Never empty. */
  sources: ImageSource[];
}

/** Transports allowed in `images/skopeo/tar.txt` (defined with the archive spec in `transfer/location.ts`). */
export type { ArchiveTransport };

/** One image archive listed in `images/skopeo/tar.txt`. */
export interface ArchiveEntry {
  /** Archive format. */
  transport: ArchiveTransport;
  /** Absolute path of the archive, inside the context directory. */
  path: string;
  /** Destination `repository:tag` in the local registry (`latest` when the line gives no tag). */
  destination: string;
  /** The line that listed it. */
  source: ImageSource;
}

/** Something discovery skipped or distrusts, worth telling the user. */
export interface DiscoveryWarning {
  /** File relative to the context directory (`.` for the context itself). */
  file: string;
  /** 1-based line number, when the warning is about one line. */
  line?: number;
  /** One-line explanation. */
  message: string;
}

/** Everything a build context asks to be saved. */
export interface DiscoveryResult {
  /**
   * Images to save, sorted bytewise by `image`, `.sealignore` already applied: what Sealos saves
   * plus what image fields hold.
   */
  images: DiscoveredImage[];
  /**
   * Images found only in environment values or container arguments (every source has
   * `referencedIn`), sorted like `images`: operators list every version they can deploy there,
   * so they are saved only on request.
   */
  referenced: DiscoveredImage[];
  /** Archives from `images/skopeo/tar.txt`, in file order. Never filtered by `.sealignore`. */
  archives: ArchiveEntry[];
  /** Warnings, in the order discovery met them. */
  warnings: DiscoveryWarning[];
  /** Images dropped by `.sealignore`, sorted bytewise. */
  ignored: string[];
}

/** Options of {@link discoverImages}. */
export interface DiscoverOptions {
  /**
   * Turn entries that cannot be used (invalid references, daemon/storage shim entries, missing
   * archives, helm failures) into errors instead of warnings.
   */
  strict?: boolean;
  /**
   * Helm binary used to render charts. `undefined` looks for `$FERRY_HELM`, then `helm` on `PATH`;
   * `null` never uses helm (chart discovery is then approximate).
   */
  helm?: string | null;
  /** Ignore list; defaults to `<context>/.sealignore`. A missing file ignores nothing. */
  ignoreFile?: string;
}
