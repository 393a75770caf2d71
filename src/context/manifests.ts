/**
 * `manifests/`: raw Kubernetes YAML (Sealos `ParseYamlImages`), scanned twice: by the Sealos
 * line scanner, exactly, and by the YAML-aware walk for what the scanner misses (JSON-style
 * keys, `--image=` args, `repository`/`tag` splits). Templates are not rendered.
 *
 * @module
 */

import { extname, join } from "../path.ts";
import { stripBom } from "../fs_util.ts";
import type { Collector } from "./collector.ts";
import { listFiles } from "./fs_util.ts";
import { walkImages } from "./image_walk.ts";
import { scanLines, splitLines } from "./line_scanner.ts";
import { parseSimpleYaml } from "./simple_yaml.ts";
import type { DiscoveryRule } from "./types.ts";
import { type DocumentText, fragmentText, planDocument, splitDocuments } from "./yaml_fragments.ts";
import { parseYamlTree, type TreeNode } from "./yaml_tree.ts";

/** Directory of the manifests, relative to the context. */
export const MANIFESTS_DIR = "manifests";

const LINE_SCANNED = new Set([".yaml", ".yml", ".tmpl"]);

/** Adds the images of every manifest under `<context>/manifests` to `collector`. */
export async function scanManifests(contextDir: string, collector: Collector): Promise<void> {
  const root = join(contextDir, MANIFESTS_DIR);
  for (const rel of await listFiles(root)) {
    const ext = extname(rel).toLowerCase();
    if (!LINE_SCANNED.has(ext) && ext !== ".json") continue;
    const file = `${MANIFESTS_DIR}/${rel}`;
    const text = stripBom(await Deno.readTextFile(join(root, rel)));
    scanManifestText(text, file, collector, {
      lineRule: LINE_SCANNED.has(ext) ? "manifest-line" : undefined,
      walkRule: "manifest-yaml",
      // A template is not expected to be YAML; say nothing when it is not.
      quiet: ext === ".tmpl",
    });
  }
}

/** How {@link scanManifestText} reports what it finds. */
export interface ManifestScanOptions {
  /** Rule of line-scanner finds; no line scan when unset (JSON files). */
  lineRule?: DiscoveryRule;
  /** Rule of YAML-walk finds. */
  walkRule: DiscoveryRule;
  /** Suppress YAML syntax warnings and invalid `image` value reports. */
  quiet?: boolean;
  /** Maps a line of `text` to a place in the context; default: `file` and the same line. */
  locate?: (line: number) => { file: string; line: number };
}

/** Runs the line scanner and the YAML walk over one text, adding finds to `collector`. */
export function scanManifestText(
  text: string,
  file: string,
  collector: Collector,
  options: ManifestScanOptions,
): void {
  const locate = options.locate ?? ((line: number) => ({ file, line }));
  const lines = splitLines(text);
  if (options.lineRule !== undefined) {
    for (const find of scanLines(lines)) {
      collector.add(find.image, { ...locate(find.line), rule: options.lineRule });
    }
  }
  let reported = false;
  for (const doc of splitDocuments(lines)) {
    const plan = planDocument(doc.lines, options.lineRule !== undefined);
    if (plan.kind === "none") continue;
    const roots = plan.kind === "fragments" ? parseFragments(doc, plan.ranges, locate) : undefined;
    let documents = roots;
    if (documents === undefined) {
      const parsed = parseYamlTree(
        doc.lines.join("\n"),
        (line) => locate(doc.start + line),
      );
      documents = parsed.documents;
      if (parsed.error !== undefined && !options.quiet && !reported) {
        reported = true; // one warning a file, at its first broken document
        const where = locate(doc.start + parsed.error.line);
        collector.warn({
          ...where,
          message: `not valid YAML (${parsed.error.message}); ` +
            (options.lineRule === undefined
              ? "its images are not discovered"
              : "only the line scanner read the broken document"),
        });
      }
    }
    for (const root of documents) addWalk(root, collector, options);
  }
}

/** The fragments' trees, or `undefined` when one does not parse (the document is then read whole). */
function parseFragments(
  doc: DocumentText,
  ranges: { start: number; end: number }[],
  locate: (line: number) => { file: string; line: number },
): TreeNode[] | undefined {
  const roots: TreeNode[] = [];
  for (const { start, end } of ranges) {
    const offset = doc.start + start;
    const text = fragmentText(doc.lines, start, end);
    const at = (line: number) => locate(offset + line);
    const simple = parseSimpleYaml(text, at);
    if (simple !== undefined) {
      roots.push(simple);
      continue;
    }
    const parsed = parseYamlTree(text, at);
    if (parsed.error !== undefined) return undefined;
    roots.push(...parsed.documents);
  }
  return roots;
}

function addWalk(root: TreeNode, collector: Collector, options: ManifestScanOptions) {
  const { finds, problems } = walkImages(root);
  for (const find of finds) {
    // What the line scanner already found on this line needs no second source.
    if (find.referencedIn === undefined && collector.has(find.image, find.at.file, find.at.line)) {
      continue;
    }
    collector.add(find.image, {
      ...find.at,
      rule: options.walkRule,
      ...(find.referencedIn ? { referencedIn: find.referencedIn } : {}),
    });
  }
  if (options.quiet) return;
  for (const problem of problems) {
    collector.problem("invalid_reference", {
      ...problem.at,
      message: `skipped image value: ${problem.message}`,
    });
  }
}
